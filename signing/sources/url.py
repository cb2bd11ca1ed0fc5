"""Download a release artifact and the signature files published beside it, over HTTPS only.

`install https://host/path/pack-1.2.0.tar.gz` turns the URL into a local
source first: the artifact and its sidecars (`pack-1.2.0.tar.gz.minisig`,
`.sigstore.json`, provenance: the names `signing.layout.FileLayout` gives
a single-file bundle) land in a staging directory, and the verifier then
checks the signatures over exactly those bytes. Nothing here decides trust;
it only makes sure that what reaches the verifier came whole, over verified
TLS, within bounds:

- Only `https://` is fetched, and every redirect hop is checked before it
  is contacted: a redirect to plain HTTP, a redirect loop or a long chain
  is refused. There is no switch for plain HTTP, not even for tests.
- TLS is always verified, against `REQUESTS_CA_BUNDLE` (or `CURL_CA_BUNDLE`)
  when set, else the roots `requests` ships. The session ignores the rest
  of the environment (`trust_env` off) but the proxy, chosen for each hop
  by `signing.sources.proxy` as for a Git fetch, and `verify` is passed as
  a path or True, so no variable, empty or not, can turn verification off.
- Each file is fetched once (a failed attempt is retried from scratch, its
  partial file removed) and hashed as it is written: what the verifier
  reads is what was received, so a server that answers a second request
  differently has nothing to gain.
- A body over `max_size`, declared or actually sent, is refused as soon as
  it passes the cap; a body shorter than its Content-Length is refused; a
  connection that goes quiet for the read timeout is dropped, and a
  download still running at its total deadline (a server trickling bytes)
  is refused.
- Connection errors, timeouts and 5xx answers are retried a few times with
  backoff; anything else fails at once.

A sidecar the server does not have (404) is recorded as absent, not an
error: whether the bundle needs it is the verifier's decision.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from io import BufferedWriter
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from attest.errors import os_error_line, os_error_reason
from signing.digest import FileDigest
from signing.errors import OutputError, SourceError, SourceSpecError, TrustPolicyError
from signing.layout import FileLayout
from signing.progress import Progress
from signing.sources.proxy import proxy_for
from signing.sources.spec import release_name

DEFAULT_MAX_SIZE = 2 * 1024**3
_CHUNK_BYTES = 1024 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SIDECAR_MAX_BYTES = 16 * 1024 * 1024
"""A signature or a single file's provenance is kilobytes; a server sending more is not sending one."""


@dataclass(frozen=True)
class HttpLimits:
    """How long to wait and how often to try again; the defaults suit a release server on the internet."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """Seconds without a byte from the server, before the answer or in the middle of the body."""
    retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    """The wait before each retry: one retry per entry, so `()` tries once."""
    max_redirects: int = 5
    total_timeout: float = 1800.0
    """Seconds the whole download (artifact, signature files, retries) may take: a server trickling a byte
    now and then is never silent for `read_timeout`, and would otherwise hold the installer, and the install
    directory's lock, as long as it likes (as `signing.sources.git.FetchLimits.total_timeout`)."""


@dataclass(frozen=True)
class Download:
    """What `download_release` wrote into its directory."""

    artifact: Path
    signatures: tuple[Path, ...]
    """The sidecar files that existed beside the URL, in name order."""
    digest: FileDigest
    """The artifact's sha256 and size, computed from the bytes as they were written."""
    absent: tuple[str, ...] = ()
    """The sidecar names the server answered 404 for."""


def download_release(
    url: str,
    into: Path,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    progress: Progress | None = None,
    limits: HttpLimits = HttpLimits(),
) -> Download:
    """Download the artifact at `url` and every sidecar beside it into the existing directory `into`.

    Files are named after the URL's last path segment. Raises
    `SourceSpecError` for a URL that is not `https://`, names no safe file,
    or is not found (404); `SourceError` when the artifact or a sidecar
    cannot be fetched whole and safely; `OutputError` when a file cannot be
    written. On any error, every file written so far is removed.
    """
    name, segment = release_name(url)
    if max_size < 1:
        raise SourceSpecError(f"{url}: the size cap must be at least 1 byte, not {max_size}")
    if not Path(into).is_dir():
        raise OutputError(f"{into}: not a directory to download into")
    artifact = Path(into) / name
    written: list[Path] = []
    try:
        with _Fetcher(limits, progress) as fetcher:
            digest = fetcher.artifact(url, artifact, max_size)
            written.append(artifact)
            absent = []
            for sidecar in sorted(FileLayout(artifact).signature_files()):
                suffix = sidecar.name.removeprefix(name)
                if fetcher.sidecar(_beside(url, segment + suffix), sidecar):
                    written.append(sidecar)
                else:
                    absent.append(sidecar.name)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return Download(artifact, tuple(written[1:]), digest, tuple(absent))


def _beside(url: str, segment: str) -> str:
    """The URL of `segment` in the same directory as `url`."""
    parts = urlsplit(url)
    directory = parts.path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{directory}/{segment}", "", ""))


def _ca_bundle() -> str | bool:
    """Where the trusted roots are: `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` if set and not empty, else requests' own.

    Never False: an empty variable means the default roots, not "do not verify".
    """
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if path := os.environ.get(variable):
            if not os.path.exists(path):
                raise TrustPolicyError(f"{variable}={path}: no such file or directory of CA certificates")
            return path
    return True


class _Absent(Exception):
    """The server has no such file (404)."""


class _Retry(Exception):
    """A failure worth another attempt (connection, timeout, 5xx, cut body); `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Fetcher:
    """One HTTPS session that fetches files whole, with the checks and retries the module docstring lists."""

    def __init__(self, limits: HttpLimits, progress: Progress | None) -> None:
        self._limits = limits
        self._progress = progress
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = _ca_bundle()
        self._session.headers["Accept-Encoding"] = "identity"
        self._deadline = time.monotonic() + limits.total_timeout

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self._session.close()

    def artifact(self, url: str, target: Path, max_size: int) -> FileDigest:
        """Write `url`'s body to `target` and return its digest; a 404 is an error."""
        try:
            return self._fetch(url, target, max_size)
        except _Absent:
            raise SourceSpecError(f"{url}: HTTP {_status(HTTPStatus.NOT_FOUND)}: nothing to download there") from None

    def sidecar(self, url: str, target: Path) -> bool:
        """Write `url`'s body to `target`; False if the server has no such file."""
        try:
            self._fetch(url, target, _SIDECAR_MAX_BYTES)
        except _Absent:
            return False
        return True

    def _fetch(self, url: str, target: Path, max_size: int) -> FileDigest:
        """One attempt per retry delay, each after a failure worth retrying and its wait, then the last."""
        for delay in self._limits.retry_delays:
            try:
                return self._fetch_once(url, target, max_size)
            except _Retry:
                time.sleep(delay)
        try:
            return self._fetch_once(url, target, max_size)
        except _Retry as failure:
            attempts = len(self._limits.retry_delays) + 1
            tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
            raise SourceError(f"{url}: {failure.reason} (gave up after {tries})") from None

    def _fetch_once(self, url: str, target: Path, max_size: int) -> FileDigest:
        try:
            with self._open(url) as response:
                status = response.status_code
                if status == HTTPStatus.NOT_FOUND:
                    raise _Absent()
                if status >= 500:
                    raise _Retry(f"HTTP {_status(status)}")
                if status != HTTPStatus.OK:
                    raise SourceError(f"{url}: HTTP {_status(status)}")
                return self._save(url, response, target, max_size)
        except requests.exceptions.SSLError as err:
            raise SourceError(f"{url}: TLS: {_tls_reason(err)}") from None
        except urllib3.exceptions.SSLError as err:
            raise SourceError(f"{url}: TLS: {_tls_reason(err)}") from None
        except requests.exceptions.ConnectTimeout:
            raise _Retry(f"no connection within {self._limits.connect_timeout:g} s") from None
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
            raise _Retry(f"nothing received for {self._limits.read_timeout:g} s") from None
        except (requests.exceptions.ConnectionError, urllib3.exceptions.ProtocolError) as err:
            raise _Retry(_connection_failure(err)) from None
        except requests.exceptions.RequestException as err:
            raise SourceError(f"{url}: {type(err).__name__}: the request cannot be made") from None

    def _open(self, url: str) -> requests.Response:
        """GET `url` as a stream, following at most `max_redirects` redirects, each to HTTPS and each new."""
        visited = [url]
        while True:
            proxy = proxy_for(visited[-1])
            response = self._session.get(
                visited[-1],
                stream=True,
                allow_redirects=False,
                timeout=(self._limits.connect_timeout, self._limits.read_timeout),
                proxies={"https": proxy.url} if proxy else {},
            )
            if response.status_code not in _REDIRECT_STATUSES:
                return response
            response.close()
            visited.append(_redirect_target(visited, response.headers.get("Location"), self._limits.max_redirects))

    def _save(self, url: str, response: requests.Response, target: Path, max_size: int) -> FileDigest:
        """Stream the body into a new file `target`, hashing it; remove the file if anything goes wrong."""
        declared = _content_length(url, response, max_size)
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise OutputError(os_error_line(target, err, "write")) from None
        try:
            with os.fdopen(descriptor, "wb") as stream:
                digest = self._copy(url, response, stream, max_size)
        except OSError as err:
            target.unlink(missing_ok=True)
            raise OutputError(os_error_line(target, err, "write")) from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if declared is not None and digest.size != declared:
            target.unlink(missing_ok=True)
            raise _Retry(f"the body ended after {digest.size} of {declared} bytes")
        return digest

    def _copy(self, url: str, response: requests.Response, stream: BufferedWriter, max_size: int) -> FileDigest:
        hasher = hashlib.sha256()
        size = 0
        for chunk in _chunks(response, max_size + 1):
            if time.monotonic() > self._deadline:
                raise SourceError(f"{url}: the download took over {self._limits.total_timeout:g} s; refused")
            size += len(chunk)
            if size > max_size:
                raise SourceError(f"{url}: more than {max_size} bytes, over the size cap; refused")
            hasher.update(chunk)
            stream.write(chunk)
            if self._progress is not None:
                self._progress.advance(0, len(chunk))
        return FileDigest(sha256=hasher.hexdigest(), size=size)


def _chunks(response: requests.Response, limit: int) -> Iterator[bytes]:
    """The raw body bytes, as sent (never content-decoded), and never more than `limit` of them.

    `read1` returns what one read of the connection brings: `read` would
    wait for a whole chunk, which a server trickling bytes never completes,
    so the caller would never get to check its deadline.
    """
    remaining = limit
    while remaining > 0:
        chunk = response.raw.read1(min(_CHUNK_BYTES, remaining), decode_content=False)
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def _content_length(url: str, response: requests.Response, max_size: int) -> int | None:
    """The declared body size, checked against the cap before a byte is read; None for a chunked body."""
    if "chunked" in response.headers.get("Transfer-Encoding", "").lower():
        return None
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise SourceError(f"{url}: malformed Content-Length {value!r}")
    if int(value) > max_size:
        raise SourceError(f"{url}: {int(value)} bytes, over the size cap of {max_size} bytes; refused")
    return int(value)


def _redirect_target(visited: list[str], location: str | None, max_redirects: int) -> str:
    """Where a redirect from `visited[-1]` leads, if it may be followed: HTTPS, not seen before, not too many."""
    here = visited[-1]
    if not location:
        raise SourceError(f"{here}: a redirect with no Location")
    target = urljoin(here, location)
    if urlsplit(target).scheme.lower() != "https":
        raise SourceError(f"{here}: redirects to {target}, which is not https://; refused")
    if target in visited:
        raise SourceError(f"{visited[0]}: redirect loop at {target}; refused")
    if len(visited) > max_redirects:
        raise SourceError(f"{visited[0]}: more than {max_redirects} redirects; refused")
    return target


def _status(code: int) -> str:
    """A status as `404 Not Found`, in the standard's words, not the server's."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps (`__cause__`, `__context__`, `reason`, `args[0]`), bounded in depth."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 16:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += list(current.args)
        pending += [item for item in wrapped if isinstance(item, BaseException)]


def _tls_reason(error: BaseException) -> str:
    """Why TLS failed, from the `ssl` error inside the library's wrappers, not from their messages."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason)
    return "the handshake failed"


def _connection_failure(error: BaseException) -> str:
    """Why a connection failed, in the system's words ("Connection refused"), or where the body was cut."""
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.errno is not None:
            return f"connection failed: {os_error_reason(cause)}"
    for cause in _causes(error):
        if isinstance(cause, urllib3.exceptions.IncompleteRead):
            return f"the connection closed after {cause.partial} of {cause.partial + cause.expected} bytes"
    return "the connection closed before the answer was complete"
