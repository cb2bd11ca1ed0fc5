"""The `packseal` command: parse arguments, call the library, print the outcome.

Exit codes: 0 success or verified; 1 an operation failed or verification
refused; 2 the command was asked wrongly (bad option, unusable trusted key,
missing bundle). Every error is one line on stderr, `packseal: error: ...`.
"""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from attest.errors import AttestError
from signing.backends import minisign as minisign_backend
from signing.errors import BundleError, KeyFileError, PacksealError, TrustPolicyError
from signing.policy import TrustPolicy
from signing.sign import sign_with_minisign
from signing.verify import Verdict, verify_bundle

PASSWORD_ENVIRONMENT_VARIABLE = "PACKSEAL_PASSWORD"

EXIT_FAILED = 1
EXIT_USAGE = 2


class _UsageFailure(Exception):
    """An error that means the command was asked wrongly: exit 2, not 1."""


@contextmanager
def _errors_as_usage(*kinds: type[Exception]) -> Iterator[None]:
    try:
        yield
    except kinds as err:
        raise _UsageFailure(str(err)) from None


@click.group()
@click.version_option(package_name="packseal")
def cli() -> None:
    """Sign bundles, and verify them before they are installed."""


@cli.command()
@click.option("--output-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="packseal", show_default=True, help="Writes NAME.key and NAME.pub.")
@click.option("--no-password", is_flag=True, help="Leave the secret key unencrypted.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
def keygen(output_dir: Path, name: str, no_password: bool, password_file: Path | None) -> int:
    """Generate a minisign key pair, as stock `minisign -G` would."""
    if no_password and password_file:
        raise click.UsageError("--no-password and --password-file exclude each other")
    password = None if no_password else _password(password_file, confirm=True)
    files = minisign_backend.generate_key_pair(output_dir, name, password)
    click.echo(f"secret key: {files.secret_key}")
    click.echo(f"public key: {files.public_key} (key id {files.key_id})")
    return 0


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--minisign-key", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trusted-comment", help="Default: bundle name, digest and time.")
def sign(path: Path, minisign_key: Path, password_file: Path | None, trusted_comment: str | None) -> int:
    """Sign a bundle directory or a single file with a minisign secret key."""
    secret_key = minisign_backend.read_secret_key(minisign_key)
    if secret_key.is_encrypted():
        minisign_backend.unlock(secret_key, _password(password_file, confirm=False), path=minisign_key)
    with secret_key:
        signed = sign_with_minisign(path, secret_key, trusted_comment=trusted_comment)
    click.echo(f"signed {signed.path} (sha256:{signed.digest})")
    for written in signed.written:
        click.echo(f"  wrote {written}")
    return 0


@cli.command("verify-bundle")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--minisign-pubkey",
    "minisign_pubkeys",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trusted minisign public key; repeat for several (key rotation).",
)
@click.option("--signature", type=click.Path(dir_okay=False, path_type=Path), help="Signature stored elsewhere.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_bundle_command(
    path: Path, minisign_pubkeys: tuple[Path, ...], signature: Path | None, as_json: bool
) -> int:
    """Verify a bundle before installing it; exit 0 only when it is verified."""
    with _errors_as_usage(KeyFileError, TrustPolicyError, BundleError):
        policy = TrustPolicy(minisign_backend.MinisignKeyring.from_files(minisign_pubkeys))
        verdict = verify_bundle(path, policy, signature=signature)
    click.echo(json.dumps(verdict.to_json(), indent=2) if as_json else _summary(verdict))
    return 0 if verdict.verified else EXIT_FAILED


def _summary(verdict: Verdict) -> str:
    lines = [f"{'VERIFIED' if verdict.verified else 'REFUSED'} {verdict.bundle}"]
    if verdict.digest:
        lines.append(f"  digest  sha256:{verdict.digest}")
    if verdict.signer:
        lines.append(f"  signer  {verdict.signer}")
    for check in verdict.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    return "\n".join(lines)


def _password(password_file: Path | None, *, confirm: bool) -> str:
    """The password from --password-file, else the environment, else a terminal prompt."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise KeyFileError(f"{password_file}: cannot read password file: {err}") from None
        if not lines or not lines[0]:
            raise KeyFileError(f"{password_file}: password file is empty")
        return lines[0]
    from_environment = os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE)
    if from_environment:
        return from_environment
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))
    raise KeyFileError(
        f"a password is needed: use --password-file, set {PASSWORD_ENVIRONMENT_VARIABLE}, or run in a terminal"
    )


def main() -> None:
    """Entry point of the `packseal` console script."""
    try:
        code = cli.main(standalone_mode=False)
    except click.UsageError as err:
        _fail(err.format_message(), EXIT_USAGE)
    except _UsageFailure as err:
        _fail(str(err), EXIT_USAGE)
    except (PacksealError, AttestError) as err:
        _fail(str(err), EXIT_FAILED)
    except click.ClickException as err:
        _fail(err.format_message(), err.exit_code)
    except click.Abort:
        _fail("aborted", EXIT_FAILED)
    sys.exit(code or 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"packseal: error: {message}", err=True)
    sys.exit(code)
