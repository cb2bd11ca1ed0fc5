"""Git state, read from the real `git`: HEAD commit, a clean worktree, a pinned commit.

Provenance is only as honest as the checkout it describes, so these reads
refuse rather than guess: no checkout, an unborn HEAD, or an abbreviated
commit id is an error. Both object formats are handled (SHA-1: 40 hex
digits; SHA-256: 64).

`.packseal/` never counts as a change: it is where signatures are written,
after the build, and it is not part of any manifest.
"""

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from attest.errors import AttestError
from attest.manifest import SIGNATURE_DIR

_FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class GitError(AttestError):
    """Git state cannot be read, or is not what was required."""


def check_full_commit(commit: str, *, what: str = "commit") -> str:
    """Return `commit` if it is a full SHA-1 or SHA-256 commit id; refuse abbreviations."""
    if not _FULL_COMMIT.fullmatch(commit):
        raise GitError(
            f"{what} {commit!r} is not a full commit id (40 or 64 lowercase hex digits); "
            "abbreviated ids are ambiguous and refused"
        )
    return commit


@dataclass(frozen=True)
class Checkout:
    """A Git worktree: its top directory, HEAD commit and object format."""

    top: Path
    head: str
    object_format: str

    @classmethod
    def containing(cls, path: Path) -> "Checkout":
        """The checkout that `path` is inside; refuse if there is none or HEAD is unborn."""
        directory = path if path.is_dir() else path.parent
        top = _git(directory, "rev-parse", "--show-toplevel")
        head = _git(directory, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        object_format = _git(directory, "rev-parse", "--show-object-format")
        return cls(top=Path(top), head=check_full_commit(head, what="HEAD"), object_format=object_format)

    def changes(self, *, bundle: Path | None = None, besides: Iterable[Path] = ()) -> list[str]:
        """Uncommitted changes (modified, staged, untracked), except where packseal writes signatures.

        A `.packseal/` directory does not count, unless it is nested inside
        `bundle` below its root: there it is bundle content, and an
        uncommitted file must not hide in it. `besides` names further files
        that are not changes: the signatures and provenance packseal writes
        beside a single-file bundle. Only those exact files, never a pattern.
        """
        ignored = {self._relative(path) for path in besides}
        inside = None if bundle is None or not bundle.is_dir() else self._relative(bundle)
        output = _git(self.top, "status", "--porcelain=v1", "-z", "--untracked-files=all", strip=False)
        changed = []
        records = iter(output.split("\0"))
        for record in records:
            if not record:
                continue
            status, path = record[:2], record[3:]
            if status[0] in "RC":
                next(records, None)  # a rename's source path follows as its own record
            if path not in ignored and not _in_signature_dir(path, inside):
                changed.append(path)
        return changed

    def require_clean(self, *, bundle: Path | None = None, besides: Iterable[Path] = ()) -> None:
        changes = self.changes(bundle=bundle, besides=besides)
        if changes:
            shown = ", ".join(changes[:5]) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")
            raise GitError(f"{self.top}: worktree has uncommitted changes: {shown}")

    def _relative(self, path: Path) -> str:
        return os.path.relpath(os.path.realpath(path), os.path.realpath(self.top))

    def require_at(self, commit: str) -> None:
        if self.head != check_full_commit(commit):
            raise GitError(f"{self.top}: checkout is at {self.head}, not at the pinned commit {commit}")

    def branch(self) -> str | None:
        """The full ref HEAD points to (`refs/heads/main`), or None when detached."""
        try:
            return _git(self.top, "symbolic-ref", "--quiet", "HEAD") or None
        except GitError:
            return None

    def origin_url(self) -> str | None:
        """The URL of the `origin` remote, if there is one."""
        try:
            return _git(self.top, "config", "--get", "remote.origin.url") or None
        except GitError:
            return None


def _in_signature_dir(path: str, bundle: str | None) -> bool:
    """Whether `path` lies in a `.packseal/` directory that is not content of `bundle`."""
    parts = path.split("/")
    if SIGNATURE_DIR not in parts:
        return False
    holder = "/".join(parts[: parts.index(SIGNATURE_DIR)]) or "."
    if bundle is None:
        return True
    nested_in_bundle = bundle == "." or holder == bundle or holder.startswith(bundle + "/")
    return not nested_in_bundle or holder == bundle


def _git(directory: Path, *arguments: str, strip: bool = True) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *arguments],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GitError(f"cannot run git: {err}") from None
    if result.returncode != 0:
        detail = " ".join(result.stderr.split()) or f"git {arguments[0]} failed"
        raise GitError(f"{directory}: not a Git checkout with a commit ({detail})")
    return result.stdout.strip() if strip else result.stdout
