"""`packseal self record` and `packseal self check`: parse, call `signing.selfcheck`, print.

Registered in `signing.cli` as the `self` group, so errors follow that
command's contract: a failed check raises `SelfCheckError`, which `main`
prints as one `packseal: error: ...` line (both digests on a mismatch) and
turns into exit code 1.
"""

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signing import selfcheck
from signing.errors import SelfCheckError
from signing.terminal import escape

if TYPE_CHECKING:
    import minisign

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("self")
def self_group() -> None:
    """Record a released binary, and check at startup that it is what runs."""


@self_group.command()
@click.option("--binary", required=True, type=_FILE, help="The released executable to record.")
@click.option("--out", required=True, type=_FILE, help="Where to write the record.")
@click.option("--minisign-key", type=_FILE, help="Sign the record with this minisign key (writes OUT.minisig).")
@click.option("--password-file", type=_FILE)
@click.option(
    "--include-distribution",
    metavar="NAME",
    help="Also record the installed files of this Python distribution.",
)
def record(
    binary: Path,
    out: Path,
    minisign_key: Path | None,
    password_file: Path | None,
    include_distribution: str | None,
) -> int:
    """Write the record of a released binary, signed when a key is given."""
    secret_key = None if minisign_key is None else _unlocked_secret_key(minisign_key, password_file)
    with secret_key if secret_key is not None else nullcontext():
        written = selfcheck.record_self(
            binary, out, secret_key=secret_key, include_distribution=include_distribution
        )
    click.echo(f"recorded {escape(str(binary))} (sha256:{written.digest.sha256}, {written.digest.size} bytes)")
    click.echo(f"  wrote {escape(str(out))}")
    if secret_key is not None:
        click.echo(f"  wrote {escape(str(selfcheck.signature_path(out)))}")
    if written.distribution is not None:
        click.echo(f"  with {len(written.distribution.files)} files of {escape(written.distribution.name)}")
    return 0


@self_group.command()
@click.option("--record", "record_path", required=True, type=_FILE, help="The record to check against.")
@click.option("--binary", type=_FILE, help="Check this file instead of the running executable.")
@click.option("--minisign-pubkey", type=_FILE, help="Require the record to be signed by this minisign key.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON, on failure too.")
def check(record_path: Path, binary: Path | None, minisign_pubkey: Path | None, as_json: bool) -> int:
    """Exit 0 only when the binary is the recorded one; fail closed on anything else."""
    try:
        result = selfcheck.check_self(record_path, public_key=minisign_pubkey, binary=binary)
    except SelfCheckError as err:
        if as_json:
            click.echo(json.dumps({"ok": False, "record": str(record_path), "error": str(err)}, indent=2))
        raise
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        shown = f"OK {result.binary} is {result.record.name} (sha256:{result.record.digest.sha256})"
        click.echo(escape(shown))
    return 0


def _unlocked_secret_key(path: Path, password_file: Path | None) -> "minisign.SecretKey":
    """Read a minisign secret key, asking for its password only when it is encrypted."""
    from signing.backends import minisign as minisign_backend
    from signing.cli import _password

    secret_key = minisign_backend.read_secret_key(path)
    if secret_key.is_encrypted():
        minisign_backend.unlock(secret_key, _password(password_file, confirm=False), path=path)
    return secret_key
