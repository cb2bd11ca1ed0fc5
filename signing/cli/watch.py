"""`packseal watch record` and `packseal watch check`: drift and phantom detection (`signing.watch`).

`check` exits 1 when any item drifted, appeared or was removed, and appends
one audit event per such item; a state that should be signed and is not,
or whose signature fails, is refused before it is read.
"""

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from signing import watch
from signing.audit import AuditLog
from signing.cli.exits import print_help_when_bare
from signing.cli.keys import PASSWORD_FILE_HELP, unlocked_secret_key
from signing.cli.options import quiet_option
from signing.documents import write_document
from signing.errors import ExitStatus
from signing.progress import progress_for_terminal
from signing.roles import Role
from signing.schemas import JSON_SCHEMA_VERSION
from signing.terminal import escape

_FILE = click.Path(dir_okay=False, path_type=Path)
_DIRECTORY = click.Path(file_okay=False, path_type=Path)


@click.group("watch", invoke_without_command=True)
@click.pass_context
def watch_group(context: click.Context) -> None:
    """Record installed bundles and configuration files, and find drifted, phantom and removed ones later."""
    print_help_when_bare(context)


@watch_group.command("record")
@click.argument("directory", type=_DIRECTORY)
@click.option("--out", required=True, type=_FILE, help="Where to write the state.")
@click.option(
    "--pattern",
    "patterns",
    multiple=True,
    default=watch.DEFAULT_PATTERNS,
    show_default=True,
    help="Watch files outside bundles whose name matches this glob (repeatable).",
)
@click.option("--minisign-key", type=_FILE, help="Sign the state with this minisign key (writes OUT.minisig).")
@click.option("--password-file", type=_FILE, help=PASSWORD_FILE_HELP)
@quiet_option
def record(
    directory: Path,
    out: Path,
    patterns: tuple[str, ...],
    minisign_key: Path | None,
    password_file: Path | None,
    quiet: bool,
) -> int:
    """Record every bundle (a directory holding .packseal/) and matching file under DIRECTORY."""
    state = watch.record_watch(directory, patterns=patterns)
    with progress_for_terminal(sys.stderr, quiet=quiet) as progress:
        secret_key = None if minisign_key is None else unlocked_secret_key(minisign_key, password_file, progress)
    with secret_key if secret_key is not None else nullcontext():
        write_document(
            out, watch.write_state(state), Role.WATCH_STATE, secret_key=secret_key, description=directory.name
        )
    bundles = sum(item.kind is watch.Kind.BUNDLE for item in state.items)
    files = sum(len(item.files) for item in state.items)
    click.echo(
        escape(f"recorded {bundles} bundles and {len(state.items) - bundles} files ({files} in all) under {directory}")
    )
    click.echo(f"  wrote {escape(str(out))}" + ("" if secret_key else ", UNSIGNED: check it with --allow-unsigned"))
    return ExitStatus.DONE


@watch_group.command("check")
@click.argument("directory", type=_DIRECTORY)
@click.option("--state", "state_path", required=True, type=_FILE, help="The state from `watch record`.")
@click.option("--minisign-pubkey", type=_FILE, help="The minisign key the state must be signed by.")
@click.option("--allow-unsigned", is_flag=True, help="Trust an unsigned state (not recommended).")
@click.option("--paranoid", is_flag=True, help="Hash every file, even one whose lstat fingerprint did not move.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(
    directory: Path,
    state_path: Path,
    minisign_pubkey: Path | None,
    allow_unsigned: bool,
    paranoid: bool,
    as_json: bool,
) -> int:
    """Report each item under DIRECTORY as unchanged, drifted, phantom or removed; exit 0 only if all are unchanged."""
    if (minisign_pubkey is None) != allow_unsigned:
        raise click.UsageError(
            "name the key the state must be signed by with --minisign-pubkey, or trust an "
            "unsigned state with --allow-unsigned (not both)"
        )
    state, signer = watch.read_state(state_path, public_key=minisign_pubkey, allow_unsigned=allow_unsigned)
    report = watch.Watcher(directory, state).check(paranoid=paranoid)
    audit = AuditLog.default()
    for item in report.changes:
        audit.append(item.audit_event(directory))
    if as_json:
        output = {
            "schema": JSON_SCHEMA_VERSION,
            "unchanged": report.unchanged,
            "directory": str(directory),
            "state": str(state_path),
            "signer": None if signer is None else signer.to_json(),
            "items": [item.to_json() for item in report.items],
        }
        click.echo(json.dumps(output, indent=2))
    else:
        click.echo(_summary(report, signer))
    return ExitStatus.DONE if report.unchanged else ExitStatus.REFUSED


def _summary(report: watch.WatchReport, signer: object) -> str:
    unchanged = len(report.items) - len(report.changes)
    lines = [f"{'UNCHANGED' if report.unchanged else 'CHANGED'}: {unchanged} of {len(report.items)} items unchanged"]
    lines.append(
        f"  state signed by {escape(str(signer))}" if signer else "  state UNSIGNED, trusted by --allow-unsigned"
    )
    for item in report.changes:
        detail = f": {item.detail}" if item.detail else ""
        lines.append(escape(f"  {item.status.value:<8} {item.kind.value} {item.path}{detail}"))
    return "\n".join(lines)
