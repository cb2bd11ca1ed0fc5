"""Fetch a remote source into install's private staging directory, and say where it came from.

`install` turns a Git commit or a release URL into a local source first,
then verifies and lands it like one from disk. This module only fetches
and names the origin; it decides nothing about trust. The Git and HTTP
clients (dulwich, requests) are imported here, on first use, so that
commands that fetch nothing never load them.
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from signing.records import Origin
from signing.sources.spec import GitSource, ReleaseSource

if TYPE_CHECKING:
    from signing.progress import Progress
    from signing.sources.git import FetchLimits
    from signing.sources.url import HttpLimits


@dataclass(frozen=True)
class RemoteOptions:
    """How a remote source is fetched; None keeps each client's own default."""

    max_size: int | None = None
    """Bytes at most: a release artifact's size, or everything a Git server sends (default 2 GiB for both)."""
    progress: "Progress | None" = None
    """Told of the bytes of a download as they arrive."""
    http: "HttpLimits | None" = None
    """Timeouts, retries and redirects of a download (`signing.sources.url.HttpLimits`)."""
    git: "FetchLimits | None" = None
    """What a Git fetch may cost (`signing.sources.git.FetchLimits`); `max_size` replaces its `max_received`."""


@dataclass(frozen=True)
class Fetched:
    """What a fetch wrote: the bundle directory (Git) or the artifact with its signature files beside it (URL)."""

    path: Path
    origin: Origin


def fetch_source(source: GitSource | ReleaseSource, into: Path, options: RemoteOptions) -> Fetched:
    """Fetch `source` into the new private directory `into`; raise `SourceError`/`SourceSpecError` as the clients do."""
    if isinstance(source, GitSource):
        return _fetch_git(source, into, options)
    return _download(source, into, options)


def _fetch_git(source: GitSource, into: Path, options: RemoteOptions) -> Fetched:
    from signing.sources.git import FetchLimits, fetch_commit

    limits = options.git or FetchLimits()
    if options.max_size is not None:
        limits = replace(limits, max_received=options.max_size)
    bundle = fetch_commit(
        source.url, source.commit, into, subdirectory=source.subdirectory, ref=source.ref, limits=limits
    )
    origin = Origin(
        str(source), "git", url=source.url, commit=source.commit, ref=source.ref, subdirectory=source.subdirectory
    )
    return Fetched(bundle, origin)


def _download(source: ReleaseSource, into: Path, options: RemoteOptions) -> Fetched:
    from signing.sources.url import DEFAULT_MAX_SIZE, HttpLimits, download_release

    into.mkdir(mode=0o700)
    download = download_release(
        source.url,
        into,
        max_size=DEFAULT_MAX_SIZE if options.max_size is None else options.max_size,
        progress=options.progress,
        limits=options.http or HttpLimits(),
    )
    return Fetched(download.artifact, Origin(source.url, "url", url=source.url))
