"""`packseal audit verify`, `audit show` and `audit head`: check, read and anchor the audit log.

`verify` and `head` refuse a log whose chain breaks (exit 1, naming the
first bad line and what was done there); `show` prints the events and the
same verdict. The log is `--log`, else the default (`AuditLog.default`:
`$PACKSEAL_HOME/audit.jsonl`, else the XDG state directory).
"""

import json
import sys
from pathlib import Path

import click

from signing.audit import AuditLog, LoggedEvent
from signing.audit_head import read_head, write_head
from signing.audit_verify import AuditReport, CheckedHead, verify_log
from signing.cli.exits import print_help_when_bare
from signing.cli.keys import PASSWORD_FILE_HELP, unlocked_secret_key
from signing.cli.options import quiet_option
from signing.errors import AuditError, ExitStatus
from signing.layout import minisign_signature
from signing.progress import progress_for_terminal
from signing.schemas import JSON_SCHEMA_VERSION
from signing.terminal import escape

_FILE = click.Path(dir_okay=False, path_type=Path)
_LOG_HELP = "The audit log (default: $PACKSEAL_HOME/audit.jsonl, else $XDG_STATE_HOME/packseal/audit.jsonl)."


@click.group("audit", invoke_without_command=True)
@click.pass_context
def audit_group(context: click.Context) -> None:
    """Verify and read the hash-chained audit log of installs and refusals."""
    print_help_when_bare(context)


@audit_group.command("verify")
@click.option("--log", "log_path", type=_FILE, help=_LOG_HELP)
@click.option("--head", "head_path", type=_FILE, help="A head (`audit head`) kept elsewhere; the log must reach it.")
@click.option("--minisign-pubkey", type=_FILE, help="The minisign key --head must be signed by.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def verify(log_path: Path | None, head_path: Path | None, minisign_pubkey: Path | None, as_json: bool) -> int:
    """Exit 0 only when every line of the log chains to the one before, and the log reaches each head."""
    if minisign_pubkey is not None and head_path is None:
        raise click.UsageError("--minisign-pubkey names the key of a head: give the head with --head")
    heads = () if head_path is None else (read_head(head_path, public_key=minisign_pubkey),)
    report = verify_log(_log(log_path), heads)
    if as_json:
        click.echo(json.dumps({"schema": JSON_SCHEMA_VERSION, **report.to_json()}, indent=2))
        return ExitStatus.DONE if report.verified else ExitStatus.REFUSED
    _refuse_unless_verified(report)
    click.echo("\n".join(_summary(report)))
    return ExitStatus.DONE


@audit_group.command("show")
@click.option("--log", "log_path", type=_FILE, help=_LOG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the events and the verdict as JSON.")
def show(log_path: Path | None, as_json: bool) -> int:
    """Print every event of the log, then whether its chain verifies (exit 1 if not)."""
    log = _log(log_path)
    report = verify_log(log)
    if as_json:
        entries = [event.to_json() for event in log.events()]
        click.echo(json.dumps({"schema": JSON_SCHEMA_VERSION, **report.to_json(), "entries": entries}, indent=2))
        return ExitStatus.DONE if report.verified else ExitStatus.REFUSED
    for event in log.events():
        click.echo(_event_line(event))
    _refuse_unless_verified(report)
    click.echo("\n".join(_summary(report)))
    return ExitStatus.DONE


@audit_group.command("head")
@click.option("--log", "log_path", type=_FILE, help=_LOG_HELP)
@click.option("--out", required=True, type=_FILE, help="Where to write the head; keep it out of the log's reach.")
@click.option("--minisign-key", type=_FILE, help="Sign the head with this minisign key (writes OUT.minisig).")
@click.option("--password-file", type=_FILE, help=PASSWORD_FILE_HELP)
@quiet_option
def head(log_path: Path | None, out: Path, minisign_key: Path | None, password_file: Path | None, quiet: bool) -> int:
    """Record the log's last event (number and hash) in OUT, once the whole chain verifies."""
    log = _log(log_path)
    _refuse_unless_verified(verify_log(log))
    with progress_for_terminal(sys.stderr, quiet=quiet) as progress:
        secret_key = None if minisign_key is None else unlocked_secret_key(minisign_key, password_file, progress)
    written = write_head(log, out, secret_key=secret_key)
    click.echo(escape(f"head of {log.path}: event {written.seq} ({written.hash})"))
    click.echo(f"  wrote {escape(str(out))}")
    if secret_key is None:
        click.echo("  UNSIGNED: it shows a cut tail only while it is kept where the log's writers cannot reach")
    else:
        click.echo(f"  wrote {escape(str(minisign_signature(out)))}")
    return ExitStatus.DONE


def _log(path: Path | None) -> AuditLog:
    return AuditLog.default() if path is None else AuditLog(path)


def _refuse_unless_verified(report: AuditReport) -> None:
    if report.problem is not None:
        raise AuditError(f"{report.log}: {report.problem}")


def _summary(report: AuditReport) -> list[str]:
    last = "" if report.last is None else f", up to event {report.last.seq} ({report.last.hash})"
    lines = [escape(f"VERIFIED audit log {report.log}: {report.events} events chained{last}")]
    lines += [f"  reaches {escape(_describe(checked))}" for checked in report.heads]
    if not any(not checked.source.startswith("the head beside") for checked in report.heads):
        lines.append("  no head kept elsewhere was given (--head): events cut off the end would not show")
    lines += [f"  note: {escape(note)}" for note in report.notes]
    return lines


def _describe(checked: CheckedHead) -> str:
    return f"{checked.source}: event {checked.head.seq} ({checked.head.hash})"


def _event_line(event: LoggedEvent) -> str:
    fields = [f"#{event.seq}", event.time, event.event.action, event.event.bundle, event.event.verdict]
    if event.event.digest:
        fields.append(event.event.digest)
    fields += [" ".join(f"{k}={v}" for k, v in signer.items()) for signer in event.event.signers]
    if event.event.policy_digest:
        fields.append(f"policy {event.event.policy_digest}")
    fields += [f"{key}={value}" for key, value in event.event.detail.items()]
    return escape("  ".join(fields))
