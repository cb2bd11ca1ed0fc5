"""Fetch one pinned commit over smart HTTPS and write its tree as files, running nothing from the repository.

`git clone` would run what the fetched repository and the user's
configuration name: filter drivers and LFS from `.gitattributes`, hooks,
`core.autocrlf`, `url.<base>.insteadOf`, `http.sslVerify=false`,
`core.sshCommand`. So packseal never runs `git` and never uses a checkout
API that reads attributes: dulwich's HTTP client fetches one commit at
depth 1 into a bare object store, and this module writes the blobs itself,
byte for byte. The client gets an empty configuration (no user, system or
`GIT_CONFIG_*` file is read, and `get_transport_and_path`, which applies
`insteadOf`, is not used), and a connection pool of our own that always
verifies TLS and follows redirects only to `https`. From the environment
it reads only the CA bundle (`REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`)
and the proxy a release download would use (`https_proxy`, `no_proxy`:
`signing.sources.proxy`), through which it tunnels with CONNECT, TLS
still verified end to end with the server.

The transport is not what makes the result trustworthy: every object
written is re-hashed here and must have the id that led to it, starting
from the pinned commit id, so a server can send nothing but that commit's
tree. What a server can still do is waste resources, so the bytes it
sends, the objects in its pack, the files and bytes written, and the time
taken are capped (`FetchLimits`).

What a server must allow: fetching a commit by id. Git's `upload-pack`
over smart HTTP serves any commit reachable from a branch or tag (protocol
v2 by default, and v0 in its stateless HTTP mode), GitHub and GitLab too;
a commit no ref reaches any more (force-pushed away) needs
`uploadpack.allowAnySHA1InWant`. Dumb HTTP servers are refused.
"""

import hashlib
import os
import re
import shutil
import ssl
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import urllib3
from dulwich.client import Urllib3HttpGitClient
from dulwich.config import ConfigDict
from dulwich.errors import NotGitRepository
from dulwich.object_format import get_object_format
from dulwich.object_store import DiskObjectStore, ObjectStoreGraphWalker
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.refs import Ref
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.util import Url

from attest.errors import os_error_line, os_error_reason
from attest.manifest import SIGNATURE_DIR, check_path
from signing.errors import PacksealError, SourceError
from signing.sources.proxy import Proxy, proxy_for
from signing.sources.spec import GitSource, parse_git_source
from signing.terminal import escape

OBJECTS_DIR = "objects"
"""The bare object store's directory inside `into`."""
CHECKOUT_DIR = "checkout"
"""Where the bundle is written inside `into`: `into/checkout/<name>`."""

_PACK_HEADER = struct.Struct(">4sLL")
_REGULAR, _EXECUTABLE, _SYMLINK, _DIRECTORY, _GITLINK = 0o100644, 0o100755, 0o120000, 0o040000, 0o160000
_Object = TypeVar("_Object", bound=ShaFile)
_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
"""Code points HFS+ drops from names, so that `.g\u200cit` opens `.git` on macOS (Git's `is_hfs_dotgit` list)."""


@dataclass(frozen=True)
class FetchLimits:
    """What one fetch may cost, whatever the server sends; each past limit is a refusal naming it."""

    max_received: int = 2 * 1024**3
    """Bytes read from the server over all requests (ref advertisement and pack)."""
    max_objects: int = 1_000_000
    """Objects in the pack, read from its header before any is unpacked."""
    max_files: int = 100_000
    """Files, links and directories written: a tree can name one subtree many times."""
    max_bytes: int = 2 * 1024**3
    """Bytes of file content written, for the same reason."""
    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    """Seconds a connection may wait for the next bytes."""
    total_timeout: float = 1800.0
    """Seconds the whole fetch may take, so a server trickling bytes cannot hold it forever."""


def fetch_commit(
    url: str,
    commit: str,
    into: Path,
    *,
    subdirectory: str | None = None,
    ref: str | None = None,
    limits: FetchLimits = FetchLimits(),
) -> Path:
    """Fetch exactly `commit` from the repository at `url` and write its tree, or `subdirectory` of it.

    `into` is a private directory that is empty or does not exist yet
    (install's staging directory). The objects land in `into/objects`, the
    bundle in `into/checkout/<name>` (the subdirectory's last component, or
    the repository's name), which is returned. `ref`, when given, must
    point at `commit` among the refs the server advertises now. Regular
    files are written with their executable bit, symlinks as links (their
    targets are checked by the manifest rules when the bundle is
    verified); a submodule or a name Git itself refuses (`.git`) is
    refused. On any refusal a `SourceError` (or `SourceSpecError` for the
    arguments) names it in one line, and `into` holds no bundle.
    """
    source = _source(url, commit, subdirectory, ref)
    into = Path(into)
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(into.iterdir()):
        raise SourceError(f"{into}: not empty; a fetch writes only into an empty directory")
    store = DiskObjectStore.init(into / OBJECTS_DIR, object_format=get_object_format(_object_format(source.commit)))
    try:
        with _fetching(source):
            client = _Client(source.url, limits)
            if source.ref is not None:
                _check_ref(client, source)
            _fetch(client, store, source, limits)
        bundle = into / CHECKOUT_DIR / source.name
        try:
            _Writer(store, source, limits).write(_bundle_tree(store, source), bundle)
        except OSError as err:
            raise SourceError(f"{source}: cannot write the tree: {os_error_line(err.filename, err)}") from None
    except BaseException:
        shutil.rmtree(into / CHECKOUT_DIR, ignore_errors=True)
        raise
    finally:
        store.close()
    return bundle


def _source(url: str, commit: str, subdirectory: str | None, ref: str | None) -> GitSource:
    """The arguments as a `GitSource`, checked by the same rules as a source string."""
    fragment = f"#subdirectory={subdirectory}" if subdirectory is not None else ""
    return parse_git_source(f"git+{url}@{commit}{fragment}", ref=ref)


def _object_format(commit: str) -> str:
    return "sha256" if len(commit) == 64 else "sha1"


class _Budget:
    """Bytes received and time spent, shared by every response of one fetch."""

    def __init__(self, where: str, limits: FetchLimits) -> None:
        self.where = where
        self.limits = limits
        self.received = 0
        self.deadline = time.monotonic() + limits.total_timeout

    def reader(self, response: urllib3.BaseHTTPResponse) -> Callable[[int], bytes]:
        """`read(size)` of the body as sent: `size` bytes (fewer only at its end), charged as they arrive.

        urllib3's own `read(size)` returns only once all `size` bytes came: a
        server sending a byte now and then is never silent for the read
        timeout, and would keep one read of a 64 KiB pkt-line going for
        about an hour per pkt-line without the deadline being looked at.
        `read1` returns what one read of the connection brought. The body
        is never content-decoded: the request accepts only `identity`, and
        a decoder could spin on input that decodes to nothing.
        """

        def read(size: int) -> bytes:
            parts: list[bytes] = []
            wanted = size
            while wanted > 0:
                data = response.read1(wanted, decode_content=False)
                if not data:
                    break
                self._charge(len(data))
                parts.append(data)
                wanted -= len(data)
            return b"".join(parts)

        return read

    def _charge(self, size: int) -> None:
        self.received += size
        if self.received > self.limits.max_received:
            raise SourceError(f"{self.where}: the server sent over {self.limits.max_received} bytes; refused")
        if time.monotonic() > self.deadline:
            raise SourceError(f"{self.where}: the fetch took over {self.limits.total_timeout:g} s; refused")


class _HttpsOnlyPool(urllib3.PoolManager):
    """Every request, including each redirect urllib3 follows, goes to an `https` URL or not at all.

    It goes directly or through the proxy the environment names for that
    URL (`signing.sources.proxy`). urllib3 asks `connection_from_host` for
    the connection of every hop, so the proxy is chosen there, hop by hop,
    as a release download chooses it: a redirect to a host `no_proxy`
    names goes direct. A proxy's pools come from a `ProxyManager` given
    this pool's own settings (CA, timeouts, retries); it tunnels `https`
    with CONNECT, so TLS is verified end to end with the server. Redirects
    stay here, checked by `urlopen`: the proxy's manager is only asked for
    connections, never to follow a redirect.
    """

    def __init__(self, **connection_pool_kw: Any) -> None:
        super().__init__(**connection_pool_kw)
        self._through: dict[str, urllib3.ProxyManager] = {}

    def urlopen(  # type: ignore[override]  # as urllib3's own PoolManager.urlopen
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        if urlsplit(url).scheme != "https":
            raise SourceError(f"{escape(url)}: refused, Git sources are fetched over https only (a redirect?)")
        return super().urlopen(method, url, redirect=redirect, **kw)

    def connection_from_host(
        self,
        host: str | None,
        port: int | None = None,
        scheme: str | None = "http",
        pool_kwargs: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        proxy = proxy_for(Url(scheme=scheme, host=host, port=port).url)
        if proxy is None:
            return super().connection_from_host(host, port, scheme, pool_kwargs)
        if proxy.url not in self._through:
            self._through[proxy.url] = urllib3.ProxyManager(
                proxy.url, proxy_headers=proxy.headers, **self.connection_pool_kw
            )
        return self._through[proxy.url].connection_from_host(host, port, scheme, pool_kwargs)

    def clear(self) -> None:
        super().clear()
        for manager in self._through.values():
            manager.clear()


class _Client(Urllib3HttpGitClient):
    """dulwich's smart-HTTP client with our pool, no configuration, no thin packs, and a byte and time budget."""

    def __init__(self, url: str, limits: FetchLimits) -> None:
        self.budget = _Budget(escape(url), limits)
        pool = _HttpsOnlyPool(
            cert_reqs=ssl.CERT_REQUIRED,
            ca_certs=os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or None,
            timeout=urllib3.Timeout(connect=limits.connect_timeout, read=limits.read_timeout),
            retries=urllib3.Retry(total=2, redirect=5, read=0, backoff_factor=0.5, raise_on_status=False),
        )
        super().__init__(url, pool_manager=pool, config=ConfigDict(), thin_packs=False, quiet=True)

    def _http_request(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        data: bytes | Iterator[bytes] | None = None,
        raise_for_status: bool = True,
    ) -> tuple[Any, Callable[[int], bytes]]:
        response, _ = super()._http_request(url, headers, data, raise_for_status)
        return response, self.budget.reader(cast(urllib3.BaseHTTPResponse, response))


def _check_ref(client: _Client, source: GitSource) -> None:
    """Refuse unless the server's `source.ref` (a branch or tag, peeled) is the pinned commit now."""
    assert source.ref is not None
    names = [source.ref] if source.ref.startswith("refs/") or source.ref == "HEAD" else None
    names = names or [f"refs/heads/{source.ref}", f"refs/tags/{source.ref}"]
    advertised = client.get_refs("", ref_prefix=[name.encode() for name in names]).refs
    found = {name: _peeled(advertised, name) for name in names if name.encode() in advertised}
    shown = escape(source.ref)
    if not found:
        raise SourceError(f"{source.url}: ref {shown!r} is not on the server")
    if len(set(found.values())) > 1:
        raise SourceError(f"{source.url}: ref {shown!r} is ambiguous: {', '.join(map(escape, found))}")
    [(name, target)] = list(found.items())[:1]
    if target != source.commit:
        raise SourceError(
            f"{source.url}: ref {escape(name)} points at {escape(target or 'nothing')} now, "
            f"not at the pinned commit {source.commit}; refused"
        )


def _peeled(refs: Mapping[Ref, ObjectID | None], name: str) -> str | None:
    """The commit a ref names: an annotated tag's target (`name^{}`) rather than the tag object."""
    value = refs.get(Ref(name.encode() + b"^{}")) or refs.get(Ref(name.encode()))
    return value.decode("ascii", "replace") if value else None


def _fetch(client: _Client, store: DiskObjectStore, source: GitSource, limits: FetchLimits) -> None:
    """Ask for exactly the pinned commit at depth 1 and store the pack the server sends."""

    def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        if client.dumb:
            raise SourceError(f"{source.url}: not a smart Git HTTP server; a pinned commit cannot be fetched by id")
        return [ObjectID(source.commit.encode("ascii"))]

    pack, commit_pack, abort = store.add_pack()
    guard = _PackGuard(pack.write, source.url, limits)
    try:
        result = client.fetch_pack("", wants, ObjectStoreGraphWalker([], lambda _: []), guard.write, depth=1)
    except BaseException:
        abort()
        raise
    if not guard.started:
        abort()
        raise SourceError(f"{source.url}: the server sent no objects for commit {source.commit}")
    commit_pack()
    if result.object_format not in (None, _object_format(source.commit)):
        raise SourceError(
            f"{source.url}: the repository's object format is {escape(str(result.object_format))}, "
            f"but the pinned commit {source.commit} is a {_object_format(source.commit)} id"
        )


class _PackGuard:
    """Pass the pack on, refusing it as soon as its header counts more objects than allowed."""

    def __init__(self, write: Callable[[bytes], object], where: str, limits: FetchLimits) -> None:
        self._write = write
        self._where = where
        self._limits = limits
        self._head = b""
        self.started = False

    def write(self, data: bytes) -> int:
        self.started = self.started or bool(data)
        if len(self._head) < _PACK_HEADER.size:
            self._head += data[: _PACK_HEADER.size - len(self._head)]
            if len(self._head) == _PACK_HEADER.size:
                signature, _, count = _PACK_HEADER.unpack(self._head)
                if signature != b"PACK":
                    raise SourceError(f"{self._where}: the server's answer is not a Git pack")
                if count > self._limits.max_objects:
                    raise SourceError(
                        f"{self._where}: the pack holds {count} objects, over the limit of {self._limits.max_objects}"
                    )
        self._write(data)
        return len(data)


@contextmanager
def _fetching(source: GitSource) -> Iterator[None]:
    """Turn any failure of the fetch into one `SourceError` line naming the URL and commit.

    The server is untrusted: a TLS failure, an HTTP error, a refused want,
    a hang-up, a malformed pkt-line or pack each surface as a different
    dulwich or urllib3 exception, and each must be a refusal, never a
    traceback.
    """
    try:
        yield
    except PacksealError:
        raise
    except NotGitRepository:
        raise SourceError(f"{source.url}: no Git repository there (the server answered 404)") from None
    except Exception as err:  # noqa: BLE001 - see the docstring
        if failure := _proxy_failure(err):
            raise SourceError(f"{source.url}: cannot fetch commit {source.commit} {failure}") from None
        detail = escape(f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__)
        raise SourceError(
            f"{source.url}: cannot fetch commit {source.commit} (unknown to the server, not reachable from its "
            f"branches and tags, or the server failed): {detail}"
        ) from None


def _proxy_failure(error: Exception) -> str | None:
    """`through the proxy P: REASON` when the proxy could not be reached or would not open the tunnel, else None.

    dulwich wraps urllib3's error (`raise GitProtocolError(...) from`), so
    the failure is read from its cause; the proxy is named as its pool
    holds it, without the credentials its URL may carry.
    """
    retries = error.__cause__
    if not isinstance(retries, urllib3.exceptions.MaxRetryError):
        return None
    failed, pool = retries.reason, retries.pool
    if not isinstance(failed, urllib3.exceptions.ProxyError) or not isinstance(pool, HTTPConnectionPool):
        return None
    where = Proxy(str(pool.proxy)).shown
    failed = failed.original_error
    if isinstance(failed.__cause__, OSError):
        return f"through the proxy {where}: connection failed: {os_error_reason(failed.__cause__)}"
    return f"through the proxy {where}: {escape(str(failed))}"


def _bundle_tree(store: DiskObjectStore, source: GitSource) -> ObjectID:
    """The id of the tree to write: the commit's, or its subdirectory's, each object checked against its id."""
    commit = _verified(store, ObjectID(source.commit.encode("ascii")), Commit, source)
    tree_id: ObjectID = commit.tree
    for name in source.subdirectory.split("/") if source.subdirectory else []:
        tree = _verified(store, tree_id, Tree, source)
        if name.encode() not in tree:
            raise SourceError(f"{source}: no subdirectory {escape(source.subdirectory or '')!r} in that commit")
        mode, tree_id = tree[name.encode()]
        if mode != _DIRECTORY:
            raise SourceError(f"{source}: {escape(source.subdirectory or '')!r} is not a directory in that commit")
    return tree_id


def _verified(store: DiskObjectStore, object_id: ObjectID, kind: type[_Object], source: GitSource) -> _Object:
    """The object `object_id` from the store, re-hashed here: it is what that id names, and of `kind`.

    dulwich indexes a received pack by hashing it, but a reader that trusts
    an index or cache would take whatever bytes it holds for the id; this
    check makes the tree written depend only on the pinned commit id.
    """
    try:
        found = store[object_id]
    except KeyError:
        raise SourceError(f"{source}: the server did not send object {object_id.decode()}") from None
    if not isinstance(found, kind):
        raise SourceError(
            f"{source}: object {object_id.decode()} is a {found.type_name.decode()}, not a {kind.__name__.lower()}"
        )
    raw = found.as_raw_string()
    algorithm = hashlib.sha256 if len(object_id) == 64 else hashlib.sha1
    actual = algorithm(found.type_name + b" %d\0" % len(raw) + raw).hexdigest().encode()
    if actual != object_id:
        raise SourceError(f"{source}: object {object_id.decode()} hashes to {actual.decode()}; refused")
    return found


class _Writer:
    """Write a tree as files: directories and regular files first, links last, nothing through a link."""

    def __init__(self, store: DiskObjectStore, source: GitSource, limits: FetchLimits) -> None:
        self._store = store
        self._source = source
        self._limits = limits
        self._files = 0
        self._bytes = 0

    def write(self, tree_id: ObjectID, bundle: Path) -> None:
        bundle.parent.mkdir(mode=0o700)
        links: list[tuple[Path, str]] = []
        pending: list[tuple[str, ObjectID]] = [("", tree_id)]
        os.mkdir(bundle, 0o755)
        while pending:
            directory, sha = pending.pop()
            for entry in _verified(self._store, sha, Tree, self._source).iteritems():
                relative = self._relative(directory, entry.path)
                self._count_entry()
                target = bundle / relative
                if entry.mode == _DIRECTORY:
                    os.mkdir(target, 0o755)
                    pending.append((relative, entry.sha))
                elif entry.mode in (_REGULAR, _EXECUTABLE):
                    self._write_file(target, entry.sha, executable=entry.mode == _EXECUTABLE)
                elif entry.mode == _SYMLINK:
                    links.append((target, self._link_target(relative, entry.sha)))
                elif entry.mode == _GITLINK:
                    raise SourceError(
                        f"{self._source}: {escape(relative)!r} is a submodule (commit {entry.sha.decode()}); "
                        "submodules are not fetched: ship their files in the bundle's own tree"
                    )
                else:
                    raise SourceError(f"{self._source}: {escape(relative)!r} has an unknown tree mode {entry.mode:o}")
        for target, link in links:
            os.symlink(link, target)

    def _relative(self, directory: str, name: bytes) -> str:
        """The entry's path below the bundle, refused where Git or the manifest rules would refuse it."""
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{self._source}: a name in the tree is not UTF-8: {name!r}") from None
        relative = f"{directory}/{text}" if directory else text
        if _HFS_IGNORED.sub("", text).casefold() in (".git", "git~1") or "/" in text:
            raise SourceError(f"{self._source}: {escape(relative)!r} is a name Git refuses to check out")
        checked = relative.removeprefix(SIGNATURE_DIR + "/") if relative != SIGNATURE_DIR else None
        try:
            if checked is not None:
                check_path(checked)
        except PacksealError as err:
            raise SourceError(f"{self._source}: {err}") from None
        return relative

    def _write_file(self, target: Path, sha: ObjectID, *, executable: bool) -> None:
        blob = _verified(self._store, sha, Blob, self._source)
        self._count_bytes(blob.raw_length())
        mode = 0o755 if executable else 0o644
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in blob.as_raw_chunks():
                stream.write(chunk)
            os.fchmod(stream.fileno(), mode)

    def _link_target(self, relative: str, sha: ObjectID) -> str:
        blob = _verified(self._store, sha, Blob, self._source)
        self._count_bytes(blob.raw_length())
        try:
            return blob.as_raw_string().decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{self._source}: symlink {escape(relative)!r} has a target that is not UTF-8") from None

    def _count_entry(self) -> None:
        self._files += 1
        if self._files > self._limits.max_files:
            raise SourceError(f"{self._source}: the tree has over {self._limits.max_files} entries; refused")

    def _count_bytes(self, size: int) -> None:
        self._bytes += size
        if self._bytes > self._limits.max_bytes:
            raise SourceError(f"{self._source}: the tree holds over {self._limits.max_bytes} bytes; refused")
