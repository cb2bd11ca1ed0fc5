"""`packseal self record` and `packseal self check`: parse, call `signing.selfcheck`, print.

Registered in `signing.cli` as the `self` group, so errors follow that
command's contract: a failed check raises `SelfCheckError` (refused); a
missing or unusable key raises `KeyFileError`, and a check that names no
key and does not `--allow-unsigned`, or names neither `--binary` nor
`--python`, is a usage error (asked wrongly).
"""

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from signing import selfcheck
from signing.cli.exits import print_help_when_bare
from signing.cli.keys import PASSWORD_FILE_HELP, unlocked_secret_key
from signing.cli.options import quiet_option
from signing.progress import progress_for_terminal
from signing.terminal import escape

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("self", invoke_without_command=True)
@click.pass_context
def self_group(context: click.Context) -> None:
    """Record a released program, and check at startup that it is what runs."""
    print_help_when_bare(context)


@self_group.command()
@click.option("--binary", type=_FILE, help="The executable to record (with --python: another interpreter).")
@click.option("--python", is_flag=True, help="Record a Python program: interpreter, libpython, script, distributions.")
@click.option(
    "--distribution",
    "distributions",
    multiple=True,
    metavar="NAME",
    help="With --python: record every file of this installed distribution (repeatable).",
)
@click.option("--script", type=_FILE, help="With --python: the program's entry script.")
@click.option("--out", required=True, type=_FILE, help="Where to write the record.")
@click.option("--minisign-key", type=_FILE, help="Sign the record with this minisign key (writes OUT.minisig).")
@click.option("--password-file", type=_FILE, help=PASSWORD_FILE_HELP)
@quiet_option
def record(
    binary: Path | None,
    python: bool,
    distributions: tuple[str, ...],
    script: Path | None,
    out: Path,
    minisign_key: Path | None,
    password_file: Path | None,
    quiet: bool,
) -> int:
    """Write the record of a released program, signed when a key is given."""
    if not python and (binary is None or distributions or script is not None):
        raise click.UsageError(
            "give --binary FILE for a compiled program, or --python with --distribution "
            "NAME and/or --script PATH for a Python program"
        )
    with progress_for_terminal(sys.stderr, quiet=quiet) as progress:
        secret_key = None if minisign_key is None else unlocked_secret_key(minisign_key, password_file, progress)
    with secret_key if secret_key is not None else nullcontext():
        try:
            written = selfcheck.record_self(
                binary, out, secret_key=secret_key, python=python, distributions=distributions, script=script
            )
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    click.echo(escape(f"recorded {written.executable.name} (sha256:{written.executable.digest.sha256})"))
    for line in selfcheck.describe(written):
        click.echo(f"  {escape(line)}")
    click.echo(f"  wrote {escape(str(out))}")
    if secret_key is not None:
        click.echo(f"  wrote {escape(str(selfcheck.signature_path(out)))}")
    else:
        click.echo("  UNSIGNED: `self check` trusts it only with --allow-unsigned")
    return 0


@self_group.command()
@click.option("--record", "record_path", required=True, type=_FILE, help="The record to check against.")
@click.option("--binary", type=_FILE, help="Check this file against a record of a compiled program.")
@click.option(
    "--python", is_flag=True, help="Check the interpreter running packseal against a Python program's record."
)
@click.option("--script", type=_FILE, help="With --python: the program's entry (its script or console script).")
@click.option("--minisign-pubkey", type=_FILE, help="The minisign key the record must be signed by.")
@click.option("--allow-unsigned", is_flag=True, help="Trust an unsigned record (not recommended).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON, on failure too.")
def check(
    record_path: Path,
    binary: Path | None,
    python: bool,
    script: Path | None,
    minisign_pubkey: Path | None,
    allow_unsigned: bool,
    as_json: bool,
) -> int:
    """Exit 0 only when the program is the recorded one; fail closed on anything else."""
    if (binary is not None) == python or (script is None) == python:
        raise click.UsageError(
            "name what to check: --binary FILE, or --python --script PATH (the program's "
            "entry as it runs: its script, or its console script)"
        )
    if (minisign_pubkey is None) != allow_unsigned:
        raise click.UsageError(
            "name the key the record must be signed by with --minisign-pubkey, or trust an "
            "unsigned record with --allow-unsigned (not both)"
        )
    result = selfcheck.check_self(
        record_path, public_key=minisign_pubkey, allow_unsigned=allow_unsigned, binary=binary, script=script
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return 0
    recorded = result.record.executable
    click.echo(escape(f"OK {result.executable} is {recorded.name} (sha256:{recorded.digest.sha256})"))
    for line in selfcheck.describe(result.record):
        click.echo(f"  {escape(line)}")
    click.echo(
        f"  signed by {escape(str(result.signer))}"
        if result.signer
        else "  UNSIGNED record, trusted by --allow-unsigned"
    )
    return 0
