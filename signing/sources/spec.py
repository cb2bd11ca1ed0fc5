"""Source strings for `install`: `git+https://host/org/repo@<commit>[#subdirectory=path]`, release URLs, paths.

The form is pip's VCS URL, narrowed to what can be trusted. Only a full
commit id pins: a branch, a tag or an abbreviated id names whatever the
server says today, so it is refused, and a branch the caller cares about
is given separately (`ref`) and checked to point at that commit. Only
`https` is fetched: `ssh` runs the user's ssh and its configuration,
`file` reads whatever the path holds, `http` and `git://` let anyone on
the path feed a pack or lie about refs. Credentials and query strings in
the URL are refused, since the URL is printed and recorded in install
records and the audit log.

A release URL is `https://` only, names its file by its last path
segment, and carries no credentials, query or fragment (`release_name`).

A refusal is a `SourceSpecError` (asked wrongly, exit 2) with one line
naming what is wrong, before anything is fetched.
"""

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from attest.commit_id import check_full_commit
from attest.errors import GitError, ManifestError
from attest.manifest import check_path
from signing.errors import SourceSpecError
from signing.sources import URL_UNSAFE
from signing.terminal import escape

GIT_PREFIX = "git+"
_SCHEME = "https"
_SUBDIRECTORY = "subdirectory="
_REF_UNSAFE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class GitSource:
    """A Git repository served over HTTPS, pinned to one commit; optionally a subdirectory and a ref to check."""

    url: str
    """The repository's `https://` URL, without `git+`, commit or fragment."""
    commit: str
    """The full commit id: 40 hex digits (SHA-1) or 64 (SHA-256)."""
    subdirectory: str | None = None
    """The bundle's directory inside the commit's tree; None for the whole tree."""
    ref: str | None = None
    """A branch or tag (`main`, `v1.2`, `refs/heads/main`) that must point at `commit` on the server."""

    @property
    def name(self) -> str:
        """The bundle's name: the subdirectory's last component, else the repository's (without `.git`)."""
        if self.subdirectory:
            return posixpath.basename(self.subdirectory)
        last = posixpath.basename(urlsplit(self.url).path.rstrip("/"))
        return last.removesuffix(".git")

    def __str__(self) -> str:
        fragment = f"#{_SUBDIRECTORY}{self.subdirectory}" if self.subdirectory else ""
        return f"{GIT_PREFIX}{self.url}@{self.commit}{fragment}"


@dataclass(frozen=True)
class ReleaseSource:
    """A release artifact at an `https://` URL, downloaded with the signature files published beside it."""

    url: str

    def __post_init__(self) -> None:
        release_name(self.url)

    @property
    def name(self) -> str:
        """The file name it downloads to: the percent-decoded last path segment."""
        return release_name(self.url)[0]

    def __str__(self) -> str:
        return self.url


def parse_source(text: str, *, ref: str | None = None) -> "Path | GitSource | ReleaseSource":
    """What `install SRC` names: `git+...` a pinned Git commit, `scheme://...` a release URL, anything else a path.

    Any `scheme://` is taken as a URL, so that `http://` or `ssh://` is
    refused as such rather than looked for on disk (a local path of that
    shape can be given as `./...`). `ref` belongs to a Git source only.
    """
    if is_git_source(text):
        return parse_git_source(text, ref=ref)
    if ref is not None:
        raise SourceSpecError(f"{escape(text)}: a ref is checked only for a git+https:// source")
    if _URL_SCHEME.match(text):
        return ReleaseSource(text)
    return Path(text)


def is_git_source(text: str) -> bool:
    """Whether `text` is meant as a Git source (`git+...`), pinned or not, so that it is parsed or refused as one."""
    return text.startswith(GIT_PREFIX)


def parse_git_source(text: str, *, ref: str | None = None) -> GitSource:
    """Parse `git+https://host/path@<full commit>[#subdirectory=path]`; refuse anything that does not pin.

    `ref`, when given, is a branch or tag name the fetch checks against the
    server's advertised refs: it must resolve to the same commit.
    """
    shown = escape(text)
    if not is_git_source(text):
        raise SourceSpecError(f"{shown}: not a Git source (git+https://host/org/repo@<full commit>)")
    if URL_UNSAFE.search(text):
        raise SourceSpecError(f"{shown}: space, control character or backslash in the source")
    location, _, fragment = text[len(GIT_PREFIX) :].partition("#")
    parts = urlsplit(location)
    if parts.scheme != _SCHEME:
        raise SourceSpecError(
            f"{shown}: only git+https:// is fetched (not {escape(parts.scheme or 'no scheme')}://): "
            "ssh runs your ssh configuration, file reads the local disk, http and git:// are unauthenticated"
        )
    if "@" in parts.netloc:
        raise SourceSpecError(f"{shown}: credentials in the URL are refused (they would be printed and recorded)")
    if parts.query or "?" in location:
        raise SourceSpecError(f"{shown}: a query string in a Git source URL is refused")
    if not parts.hostname:
        raise SourceSpecError(f"{shown}: no host in the URL")
    path, at, commit = parts.path.rpartition("@")
    if not at:
        raise SourceSpecError(f"{shown}: not pinned: name the full commit id, git+https://host/org/repo@<commit>")
    try:
        check_full_commit(commit)
    except GitError:
        raise SourceSpecError(
            f"{shown}: {escape(commit)!r} is not a full commit id (40 or 64 lowercase hex digits); "
            "a branch, tag or abbreviated id is not a pin (give a branch as ref, checked against the commit)"
        ) from None
    source = GitSource(
        url=f"{_SCHEME}://{parts.netloc}{path}",
        commit=commit,
        subdirectory=_subdirectory(shown, fragment) if fragment else None,
        ref=_checked_ref(shown, ref) if ref is not None else None,
    )
    if not path.strip("/"):
        raise SourceSpecError(f"{shown}: no repository path in the URL")
    _check_name(shown, source.name)
    return source


def _subdirectory(shown: str, fragment: str) -> str:
    if not fragment.startswith(_SUBDIRECTORY) or "&" in fragment:
        raise SourceSpecError(f"{shown}: the only fragment understood is #subdirectory=<relative path>")
    subdirectory = fragment[len(_SUBDIRECTORY) :].rstrip("/")
    try:
        check_path(subdirectory)
    except ManifestError as err:
        raise SourceSpecError(f"{shown}: subdirectory {err}") from None
    return subdirectory


def _checked_ref(shown: str, ref: str) -> str:
    """A ref name Git itself would accept (`git check-ref-format` rules), full (`refs/...`) or short."""
    if not ref or ref.startswith(("/", "-", ".")) or ref.endswith(("/", ".")) or _REF_UNSAFE.search(ref):
        raise SourceSpecError(f"{shown}: ref {escape(ref)!r} is not a valid branch or tag name")
    return ref


def _check_name(shown: str, name: str) -> None:
    try:
        check_path(name)
    except ManifestError as err:
        raise SourceSpecError(f"{shown}: the bundle name taken from the URL is unusable: {err}") from None
    if name.casefold() == ".git":
        raise SourceSpecError(f"{shown}: the bundle name taken from the URL is unusable: '.git'")


def release_name(url: str) -> tuple[str, str]:
    """The file name a release URL downloads to, and its last path segment as written; refuse a URL unfit.

    Only `https://` with a host, no credentials (they would be written to
    install records and audit logs), no query or fragment (the signature
    URLs are made by appending to the path, which a query would not
    survive). The name is the percent-decoded last segment, held to the
    rules of a bundle path name (`attest.manifest.check_path`): no `..`,
    no `/`, no control characters, portable everywhere.
    """
    if URL_UNSAFE.search(url):
        raise SourceSpecError(f"{escape(url)}: space, control character or backslash in the URL")
    try:
        parts = urlsplit(url)
        host = (parts.hostname, parts.port)[0]  # reading `port` checks it: refused here, not mid-download
    except ValueError as err:
        raise SourceSpecError(f"{url}: not a URL: {err}") from None
    if parts.scheme.lower() != "https":
        shown = f"{parts.scheme}://" if parts.scheme else "a URL without a scheme"
        raise SourceSpecError(f"{url}: only https:// URLs are downloaded, {shown} is refused")
    if not host:
        raise SourceSpecError(f"{url}: no host in the URL")
    if "@" in parts.netloc:
        raise SourceSpecError(f"{url}: credentials in the URL are refused; they would be recorded with the install")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise SourceSpecError(f"{url}: a query or fragment is refused; signature files are found beside the path")
    segment = parts.path.rsplit("/", 1)[-1]
    try:
        name = unquote(segment, errors="strict")
        if "/" in name:
            raise ManifestError(f"{name!r}: '/' in a file name")
        check_path(name)
    except (ManifestError, UnicodeDecodeError) as err:
        reason = "not UTF-8" if isinstance(err, UnicodeDecodeError) else str(err)
        raise SourceSpecError(f"{url}: the last path segment is no safe file name: {reason}") from None
    return name, segment
