"""The `packseal` command: parse arguments, call the library, print the outcome.

Exit codes: 0 success or verified; 1 an operation failed or verification
refused; 2 the command was asked wrongly (bad option, unusable trusted key,
missing bundle). Every error is one line on stderr, `packseal: error: ...`.
"""

import functools
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from attest.build_facts import ExplicitSource, gather_build_facts
from attest.errors import AttestError
from signing.backends import BundleSigning, BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.errors import BundleError, KeyFileError, PacksealError, TrustPolicyError
from signing.pins import LockFile, SourcePin
from signing.layout import FileLayout
from signing.policy import TrustPolicy
from signing.selfcheck_cli import self_group
from signing.sign import SignedBundle, attest_bundle, sign_bundle
from signing.terminal import escape
from signing.verify import Verdict, verify_bundle, verify_locked_bundle

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
    click.echo(f"secret key: {escape(str(files.secret_key))}")
    click.echo(f"public key: {escape(str(files.public_key))} (key id {files.key_id})")
    return 0


def _sigstore_instance_options(command: Callable[..., int]) -> Callable[..., int]:
    """--staging and --trust-config: which Sigstore to sign with or verify against."""
    command = click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")(command)
    return click.option(
        "--trust-config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A Sigstore ClientTrustConfig JSON (trusted root and signing config) for a private instance.",
    )(command)


@dataclass(frozen=True)
class _SigningOptions:
    minisign_key: Path | None
    password_file: Path | None
    trusted_comment: str | None
    use_sigstore: bool
    identity_token: str | None
    staging: bool
    trust_config: Path | None


def _signing_options(command: Callable[..., int]) -> Callable[..., int]:
    """The options that choose a signing system and its key or identity, as one argument."""
    options: list[Callable[[Callable[..., int]], Callable[..., int]]] = [
        click.option("--minisign-key", type=click.Path(dir_okay=False, path_type=Path), help="Sign with this key."),
        click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--trusted-comment", help="minisign: default names the bundle, its digest and the time."),
        click.option("--sigstore", "use_sigstore", is_flag=True, help="Sign keylessly with Sigstore."),
        click.option("--identity-token", help="Sigstore: the OIDC token; default is the CI's ambient credential."),
        _sigstore_instance_options,
    ]
    names = [field.name for field in fields(_SigningOptions)]

    @functools.wraps(command)
    def with_signing(**arguments: Any) -> int:
        signing = _SigningOptions(**{name: arguments.pop(name) for name in names})
        return command(signing=signing, **arguments)

    decorated: Callable[..., int] = with_signing
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


@contextmanager
def _signing(options: _SigningOptions) -> Iterator[BundleSigning]:
    """The signing system the options name; a minisign secret key is wiped afterwards."""
    if (options.minisign_key is None) == (not options.use_sigstore):
        raise click.UsageError("give exactly one of --minisign-key and --sigstore")
    if options.use_sigstore:
        from signing.backends import sigstore as sigstore_backend

        with _errors_as_usage(TrustPolicyError):
            instance = sigstore_backend.SigstoreInstance(staging=options.staging, trust_config=options.trust_config)
            instance.client_trust_config  # noqa: B018 - load it now: a bad trust config is a usage error
        yield sigstore_backend.SigstoreSigning(instance, sigstore_backend.identity_token(options.identity_token, instance))
        return
    assert options.minisign_key is not None
    secret_key = minisign_backend.read_secret_key(options.minisign_key)
    if secret_key.is_encrypted():
        password = _password(options.password_file, confirm=False)
        minisign_backend.unlock(secret_key, password, path=options.minisign_key)
    with secret_key:
        yield minisign_backend.MinisignSigning(secret_key, options.trusted_comment)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@_signing_options
def sign(path: Path, signing: _SigningOptions) -> int:
    """Sign a bundle directory or a single file, with minisign or Sigstore."""
    with _signing(signing) as chosen:
        _report("signed", sign_bundle(path, chosen))
    return 0


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@_signing_options
@click.option("--source-repo", help="The source repository URL (default: from CI or the checkout's origin).")
@click.option("--source-commit", help="The full source commit (default: from CI or the checkout's HEAD).")
@click.option("--builder-id", help="Who built it; required outside GitHub Actions.")
@click.option("--allow-dirty", is_flag=True, help="Attest even when the checkout has uncommitted changes.")
def attest(
    path: Path,
    signing: _SigningOptions,
    source_repo: str | None,
    source_commit: str | None,
    builder_id: str | None,
    allow_dirty: bool,
) -> int:
    """Write and sign SLSA provenance for a bundle: its source repository, commit and builder."""
    started_on = datetime.now(timezone.utc)
    explicit = ExplicitSource(repository=source_repo, commit=source_commit, builder_id=builder_id)
    sidecars = FileLayout(path).signature_files() if path.is_file() else set()
    facts = gather_build_facts(path, os.environ, explicit, allow_dirty=allow_dirty, signature_files=sidecars)
    with _signing(signing) as chosen:
        _report("attested", attest_bundle(path, facts, chosen, started_on=started_on))
    return 0


def _report(action: str, signed: SignedBundle) -> None:
    click.echo(f"{action} {escape(str(signed.path))} (sha256:{signed.digest})")
    for written in signed.written:
        click.echo(f"  wrote {escape(str(written))}")


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
@click.option("--source-repo", help="Require provenance from this repository.")
@click.option("--source-commit", help="Require provenance from this full commit id.")
@click.option("--source-ref", help="Require provenance naming this ref.")
@click.option("--builder-id", help="Require provenance from this builder.")
@click.option("--git-checkout", is_flag=True, help="Also require PATH to be in a clean checkout at the pinned commit.")
@click.option("--lock", type=click.Path(dir_okay=False, path_type=Path), help="Pins for many bundles (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_bundle_command(
    path: Path,
    minisign_pubkeys: tuple[Path, ...],
    offline: bool,
    trusted_root: Path | None,
    staging: bool,
    trust_config: Path | None,
    signature: Path | None,
    source_repo: str | None,
    source_commit: str | None,
    source_ref: str | None,
    builder_id: str | None,
    git_checkout: bool,
    lock: Path | None,
    as_json: bool,
    **identity: str | None,
) -> int:
    """Verify a bundle before installing it; exit 0 only when it is verified."""
    with _errors_as_usage(KeyFileError, TrustPolicyError, BundleError, AttestError):
        pin = _source_pin(source_repo, source_commit, source_ref, builder_id, git_checkout, lock)
        verifiers: list[BundleVerifier] = []
        if minisign_pubkeys:
            verifiers.append(minisign_backend.MinisignKeyring.from_files(minisign_pubkeys))
        if any(value is not None for value in identity.values()):
            from signing.backends import sigstore as sigstore_backend

            instance = sigstore_backend.SigstoreInstance(
                staging=staging, trust_config=trust_config, trusted_root=trusted_root, offline=offline
            )
            identity_policy = sigstore_backend.SigstoreIdentityPolicy(
                identity=identity["certificate_identity"],
                identity_regexp=identity["certificate_identity_regexp"],
                issuer=identity["certificate_oidc_issuer"],
                issuer_regexp=identity["certificate_oidc_issuer_regexp"],
                github_repository=identity["github_repository"],
                github_ref=identity["github_ref"],
                github_sha=identity["github_sha"],
                github_workflow_trigger=identity["github_workflow_trigger"],
            )
            verifiers.append(sigstore_backend.SigstoreVerifier(instance, identity_policy))
        if signature is not None and len(verifiers) > 1:
            raise TrustPolicyError("--signature is ambiguous when more than one signing system is trusted")
        policy = TrustPolicy(tuple(verifiers))
        if lock is not None:
            verdict = verify_locked_bundle(
                path, policy, LockFile.read(lock), signature=signature, require_checkout=git_checkout
            )
        else:
            verdict = verify_bundle(path, policy, signature=signature, pin=pin)
    click.echo(json.dumps(verdict.to_json(), indent=2) if as_json else _summary(verdict))
    return 0 if verdict.verified else EXIT_FAILED


def _source_pin(
    repository: str | None,
    commit: str | None,
    ref: str | None,
    builder_id: str | None,
    require_checkout: bool,
    lock: Path | None,
) -> SourcePin | None:
    """The pin the --source-* options state; None when they state none.

    An option given empty (an unset shell variable) still states a pin, and
    is refused by `SourcePin`: it must never turn the pin off.
    """
    stated = any(value is not None for value in (repository, commit, ref, builder_id))
    if lock is not None and stated:
        raise TrustPolicyError("--lock excludes --source-repo, --source-commit, --source-ref and --builder-id")
    if not stated and not require_checkout:
        return None
    if lock is not None:
        return None
    if repository is None or commit is None:
        raise TrustPolicyError("a source pin needs both --source-repo and --source-commit")
    return SourcePin(repository, commit, ref=ref, builder_id=builder_id, require_checkout=require_checkout)


def _summary(verdict: Verdict) -> str:
    lines = [f"{'VERIFIED' if verdict.verified else 'REFUSED'} {escape(str(verdict.bundle))}"]
    if verdict.digest:
        lines.append(f"  digest  sha256:{escape(verdict.digest)}")
    if verdict.signer:
        lines.append(f"  signer  {escape(verdict.signer)}")
    for check in verdict.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {escape(check.detail)}")
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


cli.add_command(self_group, "self")


def main() -> None:
    """Entry point of the `packseal` console script."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A path that is not valid UTF-8 is printed escaped, never a crash mid-verdict.
            stream.reconfigure(errors="backslashreplace")
    try:
        code = cli.main(standalone_mode=False, auto_envvar_prefix="PACKSEAL")
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
    click.echo(f"packseal: error: {escape(message)}", err=True)
    sys.exit(code)
