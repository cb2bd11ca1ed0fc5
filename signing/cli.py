"""The `packseal` command: parse arguments, call the library, print the outcome.

Exit codes: 0 success or verified; 1 an operation failed or verification
refused; 2 the command was asked wrongly (bad option, unusable trusted key,
missing bundle). Every error is one line on stderr, `packseal: error: ...`.
"""

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from attest.errors import AttestError
from signing.backends import BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.errors import BundleError, KeyFileError, PacksealError, TrustPolicyError
from signing.policy import TrustPolicy
from signing.sign import sign_with_minisign, sign_with_sigstore
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


def _sigstore_instance_options(command: Callable[..., int]) -> Callable[..., int]:
    """--staging and --trust-config: which Sigstore to sign with or verify against."""
    command = click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")(command)
    return click.option(
        "--trust-config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A Sigstore ClientTrustConfig JSON (trusted root and signing config) for a private instance.",
    )(command)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--minisign-key", type=click.Path(dir_okay=False, path_type=Path), help="Sign with this minisign key.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trusted-comment", help="minisign: default is bundle name, digest and time.")
@click.option("--sigstore", "use_sigstore", is_flag=True, help="Sign keylessly with Sigstore.")
@click.option("--identity-token", help="Sigstore: the OIDC token; default is the CI's ambient credential.")
@_sigstore_instance_options
def sign(
    path: Path,
    minisign_key: Path | None,
    password_file: Path | None,
    trusted_comment: str | None,
    use_sigstore: bool,
    identity_token: str | None,
    staging: bool,
    trust_config: Path | None,
) -> int:
    """Sign a bundle directory or a single file, with minisign or Sigstore."""
    if (minisign_key is None) == (not use_sigstore):
        raise click.UsageError("give exactly one of --minisign-key and --sigstore")
    if use_sigstore:
        from signing.backends import sigstore as sigstore_backend

        with _errors_as_usage(TrustPolicyError):
            instance = sigstore_backend.SigstoreInstance(staging=staging, trust_config=trust_config)
        signed = sign_with_sigstore(path, instance, sigstore_backend.identity_token(identity_token, instance))
    else:
        assert minisign_key is not None
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
@click.option("--certificate-identity", help="Sigstore: the exact signer identity (certificate SAN).")
@click.option("--certificate-identity-regexp", help="Sigstore: a regexp the whole identity must match.")
@click.option("--certificate-oidc-issuer", help="Sigstore: the exact OIDC issuer.")
@click.option("--certificate-oidc-issuer-regexp", help="Sigstore: a regexp the whole issuer must match.")
@click.option("--github-repository", help="Sigstore: the GitHub repository (owner/name) that signed.")
@click.option("--github-ref", help="Sigstore: the Git ref the workflow ran on.")
@click.option("--github-sha", help="Sigstore: the commit the workflow ran on.")
@click.option("--github-workflow-trigger", help="Sigstore: the event that triggered the workflow.")
@click.option("--offline", is_flag=True, help="Sigstore: no network; the trusted root shipped with sigstore.")
@click.option("--trusted-root", type=click.Path(dir_okay=False, path_type=Path), help="Sigstore: a trusted root JSON.")
@_sigstore_instance_options
@click.option("--signature", type=click.Path(dir_okay=False, path_type=Path), help="Signature stored elsewhere.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_bundle_command(
    path: Path,
    minisign_pubkeys: tuple[Path, ...],
    offline: bool,
    trusted_root: Path | None,
    staging: bool,
    trust_config: Path | None,
    signature: Path | None,
    as_json: bool,
    **identity: str | None,
) -> int:
    """Verify a bundle before installing it; exit 0 only when it is verified."""
    with _errors_as_usage(KeyFileError, TrustPolicyError, BundleError):
        verifiers: list[BundleVerifier] = []
        if minisign_pubkeys:
            verifiers.append(minisign_backend.MinisignKeyring.from_files(minisign_pubkeys))
        if any(value is not None for value in identity.values()):
            from signing.backends import sigstore as sigstore_backend

            instance = sigstore_backend.SigstoreInstance(
                staging=staging, trust_config=trust_config, trusted_root=trusted_root, offline=offline
            )
            policy = sigstore_backend.SigstoreIdentityPolicy(
                identity=identity["certificate_identity"],
                identity_regexp=identity["certificate_identity_regexp"],
                issuer=identity["certificate_oidc_issuer"],
                issuer_regexp=identity["certificate_oidc_issuer_regexp"],
                github_repository=identity["github_repository"],
                github_ref=identity["github_ref"],
                github_sha=identity["github_sha"],
                github_workflow_trigger=identity["github_workflow_trigger"],
            )
            verifiers.append(sigstore_backend.SigstoreVerifier(instance, policy))
        if signature is not None and len(verifiers) > 1:
            raise TrustPolicyError("--signature is ambiguous when more than one signing system is trusted")
        verdict = verify_bundle(path, TrustPolicy(tuple(verifiers)), signature=signature)
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
