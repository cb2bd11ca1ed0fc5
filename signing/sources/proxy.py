"""Which proxy a fetch of one URL goes through: the one the environment names for it, or none.

Both remote sources, a release URL and a Git repository, ask here, so a
user behind a proxy installs from either, and `no_proxy` exempts the same
hosts from both. The variables are read as requests reads them
(`requests.utils.get_environ_proxies`, then `select_proxy`): `https_proxy`
(or `HTTPS_PROXY`, else `all_proxy`) for an `https` URL, unless `no_proxy`
names its host, a domain above it, or a network holding its address.
Nothing else names a proxy: not Git's `http.proxy`, not a `.netrc`.

A proxy only carries a CONNECT tunnel: TLS runs through it to the server
and is verified exactly as without a proxy, so the proxy sees the host and
port, never the bytes. Credentials in the proxy's URL are sent to the
proxy as Basic `Proxy-Authorization` (what requests does with them) and
never shown: messages name the proxy by `Proxy.shown`.
"""

from dataclasses import dataclass, field

import requests.utils
import urllib3.util

from signing.errors import SourceError
from signing.terminal import escape


@dataclass(frozen=True)
class Proxy:
    """An `http://` or `https://` proxy, with a host; its URL may hold credentials, so `repr` leaves it out."""

    url: str = field(repr=False)
    """The URL the environment gives, `http://` added if it names no scheme (as requests does)."""

    @property
    def shown(self) -> str:
        """`scheme://host:port`, without credentials: how a message names the proxy."""
        parts = urllib3.util.parse_url(self.url)
        return escape(urllib3.util.Url(scheme=parts.scheme, host=parts.host, port=parts.port).url)

    @property
    def headers(self) -> dict[str, str]:
        """`Proxy-Authorization` for the credentials in the URL, if any; sent to the proxy only, on CONNECT."""
        username, password = requests.utils.get_auth_from_url(self.url)
        return urllib3.util.make_headers(proxy_basic_auth=f"{username}:{password}") if username else {}


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment names for `url`, or None to connect directly; `SourceError` if it is unusable."""
    named = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not named:
        return None
    try:
        proxy = Proxy(requests.utils.prepend_scheme_if_needed(named, "http"))
        parts = urllib3.util.parse_url(proxy.url)
    except (ValueError, TypeError):  # requests raises TypeError for credentials with no host; either quotes the URL
        raise SourceError(f"{escape(url)}: the proxy the environment names for it is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise SourceError(f"{escape(url)}: the proxy {proxy.shown} the environment names is not an http(s):// proxy")
    return proxy
