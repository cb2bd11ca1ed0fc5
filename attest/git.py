"""Git state, read from the repository's files: HEAD, its tree, and whether the disk is that tree.

The checkout belongs to whoever made the bundle, and the `git` binary runs
what its `.git` names (`core.fsmonitor`, hooks, filter drivers from
`.gitattributes`, `core.sshCommand`) and rewrites `.git/index` on
`status`. So packseal never runs `git`: it reads refs, config and objects
with dulwich's readers (config includes not followed; no index, filters,
hooks or worktree APIs), hashes files itself (`attest.worktree`), and
writes nothing into `.git`.

Provenance is only as honest as the checkout it describes, so these reads
refuse rather than guess: no checkout, an unborn HEAD, an unsupported
repository format, or an abbreviated commit id is an error. Both object
formats are handled (SHA-1: 40 hex digits; SHA-256: 64).

A directory of signatures written after the build (packseal's `.packseal/`)
is no change; which name that is, the caller says (`signature_dir`): this
module knows Git, not where a signing tool keeps its files.
"""

import io
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dulwich.config import ConfigFile
from dulwich.ignore import IgnoreFilter, IgnoreFilterManager
from dulwich.object_format import get_object_format
from dulwich.object_store import DiskObjectStore
from dulwich.objects import Commit, ObjectID, Tag, Tree
from dulwich.refs import SYMREF, DiskRefsContainer, Ref
from dulwich.repo import read_gitfile

from attest.commit_id import check_full_commit
from attest.errors import GitError, NotACheckoutError
from attest.worktree import Committed, Difference, Region, differences

_SMALL_FILE_BYTES = 4096
_MAX_TREE_ENTRIES = 1_000_000
_MAX_TAG_DEPTH = 16
# What dulwich reads in a control or common directory: these hold only regular files and directories.
_READ_FROM = ("HEAD", "commondir", "config", "packed-refs", "refs", "objects")
# Extensions that change nothing this module reads; any other one is refused.
_HARMLESS_EXTENSIONS = {b"objectformat", b"worktreeconfig", b"relativeworktrees", b"preciousobjects", b"noop"}


@dataclass(frozen=True)
class Checkout:
    """A Git worktree: its top directory, HEAD commit and object format."""

    top: Path
    head: str
    object_format: str
    _repository: "_Repository" = field(repr=False, compare=False)

    @classmethod
    def containing(cls, path: Path) -> "Checkout":
        """The checkout that `path` is inside; refuse if there is none or HEAD is unborn."""
        top, dot_git = _find_top(path)
        with _reading(top):
            repository = _Repository.open(top, dot_git)
            head = check_full_commit(repository.head(), what="HEAD")
        return cls(top=top, head=head, object_format=repository.object_format, _repository=repository)

    def changes(
        self, *, bundle: Path | None = None, besides: Iterable[Path] = (), signature_dir: str | None = None
    ) -> list[Difference]:
        """Where the worktree is not HEAD's tree, except where signatures are written.

        Modified, missing, and present but not committed files all count;
        so does a file Git ignores when it lies inside the directory
        `bundle`, because the bundle ships it. Elsewhere an ignored file
        (build output, caches) is not a change. A directory named
        `signature_dir` (`.packseal`) does not count, unless it is nested
        inside `bundle` below its root: there it is bundle content. The
        repository's `.git` is not compared, unless the bundle is the whole
        worktree and so would ship it. `besides` names further files that
        are not changes: the signatures and provenance written beside a
        single-file bundle. Only those exact files, never a pattern. The
        index is not read: what is on disk is what a build used.
        """
        inside = self._relative(bundle) if bundle is not None and bundle.is_dir() else None
        ignored = {self._relative(path) for path in besides}
        region = Region(
            start=b"",
            skipped=lambda path: (
                (path == b".git" and inside != b"") or path in ignored or _in_signature_dir(path, inside, signature_dir)
            ),
            strict=inside,
            ignores=self._repository.ignores(),
        )
        return self._differences(b"", region)

    def require_clean(
        self, *, bundle: Path | None = None, besides: Iterable[Path] = (), signature_dir: str | None = None
    ) -> None:
        """Refuse a worktree with `changes`, naming them."""
        changes = self.changes(bundle=bundle, besides=besides, signature_dir=signature_dir)
        _refuse(f"{self.top}: worktree has uncommitted changes", changes)

    def bundle_changes(self, bundle: Path, *, signature_dir: str | None = None) -> list[Difference]:
        """Where the bundle is not exactly HEAD's tree at its path.

        A directory: every file and link below it, except its own root
        `signature_dir`, must be the tree's entry at the same path (content,
        executable bit, link target), and every entry of the tree there
        must be present; a file the tree lacks is a difference whether Git
        would ignore it or not. A single file: that file must be the
        tree's entry.
        """
        inside = self._relative(bundle)
        region = Region(
            start=inside, skipped=lambda path: _in_signature_dir(path, inside, signature_dir), strict=inside
        )
        return self._differences(inside, region)

    def require_committed(self, bundle: Path, *, signature_dir: str | None = None) -> None:
        """Refuse a bundle that is not exactly HEAD's tree at its path, naming the differences."""
        changes = self.bundle_changes(bundle, signature_dir=signature_dir)
        _refuse(f"{bundle}: not exactly the tree of commit {self.head}", changes)

    def require_at(self, commit: str) -> None:
        if self.head != check_full_commit(commit):
            raise GitError(f"{self.top}: checkout is at {self.head}, not at the pinned commit {commit}")

    def branch(self) -> str | None:
        """The full ref HEAD points to (`refs/heads/main`), or None when detached."""
        with _reading(self.top):
            return self._repository.symbolic_head()

    def origin_url(self) -> str | None:
        """The URL of the `origin` remote, if there is one."""
        with _reading(self.top):
            return self._repository.origin_url()

    def _differences(self, below: bytes, region: Region) -> list[Difference]:
        with _reading(self.top):
            committed = self._repository.committed(self.head, below)
            return differences(os.fsencode(self.top), committed, self.object_format, region)

    def _relative(self, path: Path) -> bytes:
        """`path` relative to the top, `/`-separated (`b""` for the top); a final link is not followed."""
        resolved = os.path.realpath(path) if path.is_dir() else os.path.join(os.path.realpath(path.parent), path.name)
        relative = os.path.relpath(resolved, self.top)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            raise GitError(f"{path}: not inside the checkout {self.top}")
        return b"" if relative == os.curdir else os.fsencode(relative).replace(os.fsencode(os.sep), b"/")


@dataclass(frozen=True)
class _Repository:
    """The parts of a repository this module reads, opened by dulwich's readers alone."""

    top: Path
    common: Path
    config: ConfigFile
    refs: DiskRefsContainer
    objects: DiskObjectStore
    object_format: str

    @classmethod
    def open(cls, top: Path, dot_git: Path) -> "_Repository":
        control = _control_directory(top, dot_git)
        _require_plain_files(top, control, _READ_FROM)
        common = control
        if (control / "commondir").is_file():
            common = control / _read_small(control / "commondir").decode().rstrip("\r\n")
            _require_plain_files(top, common, _READ_FROM)
        if not (control / "HEAD").is_file() or not (common / "objects").is_dir():
            raise GitError(f"{top}: not a Git checkout with a commit ({dot_git} holds no repository)")
        config = ConfigFile.from_path(common / "config", expand_includes=False)
        object_format = _object_format(top, config)
        objects = DiskObjectStore(common / "objects", object_format=get_object_format(object_format))
        for alternate in objects.alternates:
            assert isinstance(alternate, DiskObjectStore)
            _require_plain_files(top, Path(alternate.path))
            if os.path.lexists(Path(alternate.path, "info", "alternates")):
                raise GitError(f"{top}: alternate object store {alternate.path} has alternates of its own")
        return cls(
            top=top,
            common=common,
            config=config,
            refs=DiskRefsContainer(common, worktree_path=control),
            objects=objects,
            object_format=object_format,
        )

    def head(self) -> str:
        _, commit = self.refs.follow(Ref(b"HEAD"))
        if commit is None:
            raise GitError(f"{self.top}: not a Git checkout with a commit (HEAD is unborn)")
        return commit.decode("ascii")

    def symbolic_head(self) -> str | None:
        contents = self.refs.read_ref(Ref(b"HEAD"))
        if contents is None or not contents.startswith(SYMREF):
            return None
        return contents[len(SYMREF) :].decode("utf-8")

    def origin_url(self) -> str | None:
        try:
            url = self.config.get((b"remote", b"origin"), b"url")
        except KeyError:
            return None
        return url.decode("utf-8") or None

    def ignores(self) -> "_IgnoreFiles":
        """The worktree's `.gitignore` files and `info/exclude`; no user-wide file the config names."""
        exclude = self.common / "info" / "exclude"
        filters = [IgnoreFilter.from_path(exclude)] if exclude.is_file() else []
        return _IgnoreFiles(self.top, IgnoreFilterManager(str(self.top), filters, ignorecase=False))

    def committed(self, commit: str, below: bytes) -> dict[bytes, Committed]:
        """Every entry of `commit`'s tree at or below the path `below`, by path."""
        mode, sha = stat.S_IFDIR, self._commit(commit).tree
        for name in below.split(b"/") if below else []:
            tree = self._tree(sha) if stat.S_ISDIR(mode) else None
            if tree is None or name not in tree:
                return {}
            mode, sha = tree[name]
        if not stat.S_ISDIR(mode):
            return {below: Committed(mode, sha.decode("ascii"))}
        entries: dict[bytes, Committed] = {}
        pending = [(below, sha)]
        while pending:
            directory, sha = pending.pop()
            for entry in self._tree(sha).iteritems():
                if entry.path in (b"", b".", b"..") or b"/" in entry.path or b"\0" in entry.path:
                    raise GitError(f"{self.top}: tree {sha.decode('ascii')} has an invalid entry name {entry.path!r}")
                path = directory + b"/" + entry.path if directory else entry.path
                if stat.S_ISDIR(entry.mode):
                    pending.append((path, entry.sha))
                else:
                    entries[path] = Committed(entry.mode, entry.sha.decode("ascii"))
                if len(entries) + len(pending) > _MAX_TREE_ENTRIES:
                    raise GitError(f"{self.top}: commit {commit} has more than {_MAX_TREE_ENTRIES} entries")
        return entries

    def _commit(self, commit: str) -> Commit:
        found = self.objects[ObjectID(commit.encode("ascii"))]
        for _ in range(_MAX_TAG_DEPTH):
            if not isinstance(found, Tag):
                break
            found = self.objects[found.object[1]]
        if not isinstance(found, Commit):
            raise GitError(f"{self.top}: {commit} is not a commit")
        return found

    def _tree(self, sha: ObjectID) -> Tree:
        found = self.objects[sha]
        if not isinstance(found, Tree):
            raise GitError(f"{self.top}: object {sha.decode('ascii')} is not a tree")
        return found


@dataclass
class _IgnoreFiles:
    """dulwich's ignore rules, which it reads only from `.gitignore` files that are regular files.

    dulwich opens each directory's `.gitignore` with a plain `open` when a
    path below it is first asked about: a FIFO there would block it forever,
    a link to `/dev/zero` feed it without end. Like Git, which follows no
    link to a `.gitignore`, anything but a regular file is refused first.
    """

    top: Path
    rules: IgnoreFilterManager
    _checked: set[str] = field(default_factory=set)

    def is_ignored(self, path: str) -> bool | None:
        self._check_along(path)
        return self.rules.is_ignored(path)

    def may_prune_directory(self, path: str) -> bool:
        self._check_along(path.rstrip("/"))
        return self.rules.may_prune_directory(path)

    def _check_along(self, path: str) -> None:
        """Refuse a `.gitignore` that is not a regular file in `path` or any directory above it.

        dulwich looks for one in `path` itself too, whatever `path` is.
        """
        directory = path
        while directory not in self._checked:
            self._checked.add(directory)
            ignore_file = self.top / directory / ".gitignore"
            try:
                mode = ignore_file.lstat().st_mode
            except (FileNotFoundError, NotADirectoryError):
                mode = stat.S_IFREG
            if not stat.S_ISREG(mode):
                raise GitError(f"{ignore_file}: a .gitignore that is not a regular file; refused, not read")
            if not directory:
                break
            directory = os.path.dirname(directory)


def _find_top(path: Path) -> tuple[Path, Path]:
    """The nearest directory at or above `path` holding a `.git`, and that `.git`."""
    start = Path(os.path.realpath(path if path.is_dir() else path.parent))
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        if os.path.lexists(dot_git):
            return directory, dot_git
    raise NotACheckoutError(f"{path}: not a Git checkout with a commit (no .git in it or above it)")


def _control_directory(top: Path, dot_git: Path) -> Path:
    """`.git` itself, or the directory a `.git` file names (a linked worktree or a submodule)."""
    if dot_git.is_dir():
        return dot_git
    if not dot_git.is_file():
        raise GitError(f"{top}: not a Git checkout with a commit ({dot_git} is neither a directory nor a file)")
    try:
        return top / read_gitfile(io.BytesIO(_read_small(dot_git)))
    except (ValueError, UnicodeDecodeError):
        raise GitError(f"{top}: not a Git checkout with a commit ({dot_git} names no gitdir)") from None


def _object_format(top: Path, config: ConfigFile) -> str:
    """The repository's object format; refuse a format version or extension this reader does not know."""
    try:
        version = int(config.get((b"core",), b"repositoryformatversion"))
    except KeyError:
        version = 0
    if version not in (0, 1):
        raise GitError(f"{top}: repository format version {version} is not supported")
    if version == 0:
        return "sha1"
    extensions = {name.lower(): value for name, value in config.items((b"extensions",))}
    unknown = sorted(name.decode("utf-8", "backslashreplace") for name in set(extensions) - _HARMLESS_EXTENSIONS)
    if unknown:
        raise GitError(f"{top}: repository extension {', '.join(unknown)} is not supported")
    object_format = extensions.get(b"objectformat", b"sha1").decode("ascii", "replace").lower()
    if object_format not in ("sha1", "sha256"):
        raise GitError(f"{top}: object format {object_format!r} is not supported")
    return object_format


def _require_plain_files(top: Path, directory: Path, names: Iterable[str] = ("",)) -> None:
    """Refuse links and special files at or below `names` in a repository directory.

    dulwich opens what it reads with a plain `open`, following links: a
    FIFO would block it forever and a link to `/dev/zero` feed it without
    end. Git writes neither where dulwich reads (`_READ_FROM`), so any link
    or special file there is refused before dulwich reads a byte. The walk
    follows no link. Elsewhere (hooks, logs) nothing is read, so nothing is
    required.
    """
    pending = [directory / name for name in names if os.path.lexists(directory / name)]
    while pending:
        path = pending.pop()
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            pending.extend(Path(entry.path) for entry in os.scandir(path))
        elif not stat.S_ISREG(mode):
            shown = os.fsdecode(path).encode("utf-8", "backslashreplace").decode()
            raise GitError(f"{top}: {shown} is not a regular file or directory; refused, not read")


def _read_small(path: Path) -> bytes:
    """A small regular file of the repository (`.git` file, `commondir`), refused if over 4 KiB."""
    with path.open("rb") as stream:
        data = stream.read(_SMALL_FILE_BYTES + 1)
    if len(data) > _SMALL_FILE_BYTES:
        raise GitError(f"{path}: over {_SMALL_FILE_BYTES} bytes")
    return data


@contextmanager
def _reading(top: Path) -> Iterator[None]:
    """Turn any failure while reading the repository into one `GitError` line.

    The repository is untrusted input: a damaged or hostile `.git` can make
    dulwich's parsers fail in many ways (a missing object, a bad zlib
    stream or pack index, bad config syntax, a checksum mismatch), and each
    must be a refusal, never a traceback.
    """
    try:
        yield
    except GitError:
        raise
    except Exception as err:  # noqa: BLE001 - see the docstring
        raise GitError(f"{top}: cannot read the Git repository: {type(err).__name__}: {err}") from None


def _refuse(what: str, changes: list[Difference]) -> None:
    if changes:
        shown = ", ".join(map(str, changes[:5])) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")
        raise GitError(f"{what}: {shown}")


def _in_signature_dir(path: bytes, bundle: bytes | None, signature_dir: str | None) -> bool:
    """Whether `path` lies in a directory named `signature_dir` that is not content of `bundle`."""
    name = os.fsencode(signature_dir) if signature_dir else None
    parts = path.split(b"/")
    if name is None or name not in parts:
        return False
    holder = b"/".join(parts[: parts.index(name)])
    if bundle is None:
        return True
    nested_in_bundle = bundle == b"" or holder == bundle or holder.startswith(bundle + b"/")
    return not nested_in_bundle or holder == bundle
