"""`packseal install`: verify a copy of SRC under the trust policy, say what it trusts, land exactly it in DEST.

SRC is a path, `git+https://host/org/repo@<commit>[#subdirectory=p]` or an
`https://` release URL, read by `signing.sources.spec.parse_source`.
"""

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from signing.archive import ArchiveLimits
from signing.cli import quiet_dependencies
from signing.cli.options import quiet_option
from signing.cli.trust import TrustOptions, trust_options
from signing.cli.verify import summary
from signing.errors import ExitStatus, InstallRefused, TrustPolicyError
from signing.installer import Installed, install
from signing.pins import LockFile
from signing.policy import TrustPolicy
from signing.progress import progress_for_terminal
from signing.records import Origin
from signing.sources.fetch import RemoteOptions
from signing.sources.spec import parse_source
from signing.terminal import escape
from signing.trustfile import TrustFile

_FILE = click.Path(dir_okay=False, path_type=Path)
_DEFAULTS = ArchiveLimits()


@click.command("install")
@click.argument("source")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@trust_options
@click.option("--lock", type=_FILE, help="Pins for many bundles (TOML); the bundle must have an entry.")
@click.option("--ref", help="Git source: a branch or tag that must point at the pinned commit on the server now.")
@click.option("--dry-run", is_flag=True, help="Verify and print the summary; write nothing to DEST, log nothing.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=_DEFAULTS.max_bytes, show_default=True,
              help="Bytes copied from a local directory or file, or extracted from an archive, at most.")  # fmt: skip
@click.option("--max-files", type=click.IntRange(min=1), default=_DEFAULTS.max_files, show_default=True,
              help="Files, links and directories copied from a local directory or file, or extracted from an "
                   "archive, at most.")  # fmt: skip
@click.option("--max-ratio", type=click.IntRange(min=1), default=_DEFAULTS.max_ratio, show_default=True,
              help="Archives only: bytes extracted per byte of archive at most, beyond the first MiB.")  # fmt: skip
@click.option("--max-size", type=click.IntRange(min=1), metavar="BYTES",
              help="Release URL: artifact bytes at most; Git: bytes received at most (default 2 GiB).")  # fmt: skip
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Install even an older version than the highest installed, or the same version with other content.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@quiet_option
def install_command(
    source: str,
    dest: Path,
    trust: TrustOptions,
    lock: Path | None,
    ref: str | None,
    dry_run: bool,
    max_bytes: int,
    max_files: int,
    max_ratio: int,
    max_size: int | None,
    allow_downgrade: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    """Verify SOURCE (a directory, .tar.gz/.tgz/.zip archive, file, Git commit or release URL); install it as DEST/NAME.

    SOURCE may be git+https://host/org/repo@COMMIT[#subdirectory=PATH] (a full
    commit id; --ref checks a branch or tag points at it) or an https:// URL
    of a release, downloaded with the signature files beside it.
    """
    quiet_dependencies()  # a remote source is fetched with urllib3
    given = parse_source(source, ref=ref)
    policy = _policy(trust)
    limits = ArchiveLimits(max_bytes=max_bytes, max_files=max_files, max_ratio=max_ratio)
    try:
        with (
            interrupted_by_termination(),
            progress_for_terminal(sys.stderr, label="installing", quiet=quiet or as_json) as progress,
        ):
            installed = install(
                given,
                dest,
                policy,
                lock=None if lock is None else LockFile.read(lock),
                dry_run=dry_run,
                limits=limits,
                announce=None if as_json else lambda verified: click.echo(trust_summary(verified, source)),
                allow_downgrade=allow_downgrade,
                remote=RemoteOptions(max_size=max_size, progress=progress),
                progress=progress,
            )
    except InstallRefused as refused:
        click.echo(json.dumps(refused.verdict.to_json(), indent=2) if as_json else summary(refused.verdict))
        click.echo(f"packseal: error: {escape(str(refused))}", err=True)
        return ExitStatus.REFUSED
    click.echo(json.dumps(installed.to_json(), indent=2) if as_json else outcome(installed))
    return ExitStatus.DONE


@contextlib.contextmanager
def interrupted_by_termination() -> Iterator[None]:
    """While installing, take SIGTERM and SIGHUP as Ctrl-C: an interrupt that unwinds, not a sudden death.

    Their default action ends the process where it stands: an install
    stopped by `kill`, a service manager, `timeout(1)` or a closed terminal
    would leave its staging directory, and the state directory it created,
    in DEST. As a `KeyboardInterrupt` (`signal.default_int_handler`) they
    undo what was begun, as a refusal does, and the command exits 130. A
    signal the parent chose to ignore stays ignored, as Python leaves an
    ignored SIGINT. Only `install` does this, which works inside a
    directory it must leave as it found it; the other commands need not
    import `signal` to start.
    """
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    for number, handler in previous.items():
        if handler is signal.SIG_DFL:
            signal.signal(number, signal.default_int_handler)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _policy(trust: TrustOptions) -> TrustPolicy | TrustFile:
    """The policy file or the signer options (`TrustOptions.policy`), never signatures read from elsewhere."""
    if any(given is not None for given in (trust.signature, trust.sigstore_bundle, trust.signatures_dir)):
        raise TrustPolicyError("install reads the signatures staged with the bundle: --signature, --bundle and "
                               "--signatures-dir are not accepted")  # fmt: skip
    return trust.policy()


def trust_summary(installed: Installed, source: str) -> str:
    """What is about to land and whom it trusts, before it lands: every untrusted string escaped."""
    provenance = installed.provenance
    origin = "not checked (no source pin or policy requires provenance)"
    if provenance is not None:
        origin = f"{provenance.source_repository} at {provenance.source_commit}"
    lines = [
        f"VERIFIED {escape(installed.name)} from {escape(source)}",
        f"  publisher  {escape(installed.publisher or '(trust options, no policy file)')}",
        f"  signer     {escape('; '.join(str(signer) for signer in installed.signers))}",
        *_fetched(installed.origin),
        f"  source     {escape(origin)}",
        f"  digest     {installed.digest}",
        f"  content    {installed.files} files, {installed.bytes} bytes",
        f"  version    {escape(installed.version or 'unversioned')}",
    ]
    if installed.downgrade is not None:
        lines.append(f"  DOWNGRADE  allowed by --allow-downgrade: {escape(installed.downgrade)}")
    if installed.replaced is not None:
        lines.append(
            f"  replaces   {escape(installed.replaced.digest)}, installed {escape(installed.replaced.installed_at)}"
        )
        for what, (before, after) in installed.changes().items():
            lines.append(f"  changed    {what}: {escape(json.dumps(before))} -> {escape(json.dumps(after))}")
    return "\n".join(lines)


def _fetched(origin: Origin) -> list[str]:
    """The lines saying where a remote bundle was fetched from, and the archive verified as a file."""
    lines = []
    if origin.kind == "git":
        checked = "" if origin.ref is None else f" (ref {origin.ref} points at it)"
        below = "" if origin.subdirectory is None else f", subdirectory {origin.subdirectory}"
        lines.append(f"  fetched    {escape(f'{origin.url} at commit {origin.commit}{checked}{below}')}")
    elif origin.kind == "url":
        lines.append(f"  fetched    {escape(str(origin.url))}")
    if origin.archive is not None:
        name, digest = origin.archive["name"], origin.archive["digest"]
        signers = "; ".join(" ".join(signer.values()) for signer in origin.archive["signers"])
        lines.append(f"  archive    {escape(f'{name} {digest}, signed as a file by {signers}')}")
    return lines


def outcome(installed: Installed) -> str:
    if installed.record is None:
        return f"DRY RUN: nothing written; {escape(installed.name)} would land at {escape(str(installed.path))}"
    return (
        f"INSTALLED {escape(installed.name)} at {escape(str(installed.path))} (record {escape(str(installed.record))})"
    )
