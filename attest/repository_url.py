"""Which repository a URL names: a rule about a string, which needs no network and no provenance.

Pins, lock files, policy files and provenance all compare repositories this
way; pins and policy files check a URL when they are read, which must not
load the provenance reader (`attest.provenance`) on a verification that
reads no provenance.
"""

from urllib.parse import urlsplit

from attest.errors import ProvenanceError

_REPOSITORY_SCHEMES = frozenset({"https", "http", "ssh", "git"})


def normalise_repository(url: str) -> str:
    """A repository URL reduced to `host[:port]/path`, for comparing what people write differently.

    https, http, ssh and git URLs and scp-like `git@host:owner/name` name the
    same repository on a forge, so the scheme, user, host case, a trailing
    `/` and a trailing `.git` are not significant
    (`https://GitHub.com/acme/pack.git/` is `github.com/acme/pack`, and so
    is `github.com/acme/pack`); the path's case is, as on most forges it
    names another repository, and so is an explicit port. Any other scheme
    is refused: `file://github.com/acme/pack` is a local path, not that
    repository. A query string or a fragment is refused too, since the
    comparison would silently drop it.
    """
    text = url.strip().removeprefix("git+")
    if "?" in text or "#" in text:
        raise ProvenanceError(f"{url!r} is not a repository URL (it has a query string or a fragment)")
    if "://" not in text and ":" in text.split("/", 1)[0]:
        user_host, path = text.split(":", 1)
        text = f"ssh://{user_host}/{path}"
    elif "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = "" if parts.port is None else f":{parts.port}"
    except ValueError as err:
        raise ProvenanceError(f"{url!r} is not a repository URL ({err})") from None
    if parts.scheme not in _REPOSITORY_SCHEMES:
        schemes = ", ".join(sorted(_REPOSITORY_SCHEMES))
        raise ProvenanceError(f"{url!r} is not a repository URL (scheme {parts.scheme!r}; use {schemes})")
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/").removesuffix(".git").rstrip("/")
    if not host or not path.strip("/"):
        raise ProvenanceError(f"{url!r} is not a repository URL")
    return f"{host}{port}{path}"
