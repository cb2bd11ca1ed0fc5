"""The `packseal` command: parse arguments, call the library, print the outcome.

Exit codes are the same on every command (`signing.errors.ExitStatus`): 0
verified or done; 1 refused; 2 asked wrongly (bad option, unusable key or
password, missing bundle, malformed trust input, output in the way); 130
interrupted. `main` maps errors to them by type, in one place. Every error is
one line on stderr, `packseal: error: ...`; with `--json`, an error of a
command asked wrongly is also one JSON object on stdout.

Options are read from the environment only where `ENVIRONMENT_OPTIONS` says
so, as `PACKSEAL_<COMMAND>_<OPTION>`; an option that decides trust never is.
"""

import functools
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from attest.build_facts import ExplicitSource, gather_build_facts
from signing.backends import BundleSigning, BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.errors import ExitStatus, KeyFileError, PacksealError, TrustPolicyError, exit_status
from signing.pins import LockFile, SourcePin
from signing.layout import FileLayout
from signing.policy import TrustPolicy
from signing.cli.selfcheck import self_group
from signing.sign import SignedBundle, attest_bundle, sign_bundle
from signing.terminal import escape
from signing.verify import Verdict, verify_bundle, verify_locked_bundle

PASSWORD_ENVIRONMENT_VARIABLE = "PACKSEAL_PASSWORD"

ENVIRONMENT_OPTIONS: dict[str, frozenset[str]] = {
    "keygen": frozenset({"--output-dir", "--name", "--no-password", "--password-file"}),
    "sign": frozenset({"--password-file", "--trusted-comment", "--sigstore", "--identity-token"}),
    "attest": frozenset(
        {"--password-file", "--trusted-comment", "--sigstore", "--identity-token"}
        | {"--source-repo", "--source-commit", "--builder-id"}
    ),
    "verify-bundle": frozenset({"--json"}),
    "self record": frozenset({"--binary", "--python", "--distribution", "--script", "--out", "--password-file"}),
    "self check": frozenset({"--json"}),
}
"""The options each command reads from `PACKSEAL_<COMMAND>_<OPTION>` when the command line lacks them.

Every other option decides trust or what is signed with which key: keys,
identities, issuers, workflow claims, the Sigstore instance, trust roots
and configs, `--offline`, pins, lock files, signature paths,
`--allow-dirty`, and the record and binary `self check` compares. Those come
from the command line only: whoever sets the environment of a command must
not silently choose whom it trusts.
"""


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
    return ExitStatus.DONE if verdict.verified else ExitStatus.REFUSED


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


def environment_variable(command: str, flag: str) -> str:
    """`PACKSEAL_<COMMAND>_<OPTION>`: `verify-bundle` and `--json` give `PACKSEAL_VERIFY_BUNDLE_JSON`."""
    return "_".join(("PACKSEAL", command, flag.removeprefix("--"))).upper().replace("-", "_").replace(" ", "_")


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under group, by its path (`self check`)."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


def _long_flag(option: click.Option) -> str:
    return next(flag for flag in option.opts if flag.startswith("--"))


@dataclass
class _Invocation:
    """What `main` must know about the command line once a command has failed."""

    as_json: bool = False


def _remember_json(context: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        context.ensure_object(_Invocation).as_json = True
    return value


def _configure_options(group: click.Group) -> frozenset[tuple[str, str]]:
    """Give each option its environment variable, or none, per `ENVIRONMENT_OPTIONS`.

    Returns (command, flag) of the options that are never read from the
    environment. `--json` is made eager, so that an error in any other
    option is already known to need a JSON answer.
    """
    command_line_only = set()
    for path, command in _commands(group):
        allowed = ENVIRONMENT_OPTIONS[path]
        options = [param for param in command.params if isinstance(param, click.Option)]
        unknown = allowed - {_long_flag(option) for option in options}
        assert not unknown, f"ENVIRONMENT_OPTIONS names what {path} lacks: {sorted(unknown)}"
        for option in options:
            flag = _long_flag(option)
            if flag in allowed:
                option.envvar = environment_variable(path, flag)
                option.show_envvar = True
            else:
                option.envvar = None
                command_line_only.add((path, flag))
            if flag == "--json":
                option.callback = _remember_json
                option.is_eager = True
    return frozenset(command_line_only)


_COMMAND_LINE_ONLY = _configure_options(cli)


def _refuse_trust_from_environment(environment: Mapping[str, str]) -> None:
    """A variable named like a trust option is set: say it is not read, rather than ignore it silently."""
    for command, flag in sorted(_COMMAND_LINE_ONLY):
        name = environment_variable(command, flag)
        if name in environment:
            raise TrustPolicyError(
                f"{name} is set, but {command} {flag} decides trust and is read only from the command line: "
                "unset it, and give the option on the command line"
            )


def main() -> None:
    """Entry point of the `packseal` console script: run a command, exit with its `ExitStatus`."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A path that is not valid UTF-8 is printed escaped, never a crash mid-verdict.
            stream.reconfigure(errors="backslashreplace")
    invocation = _Invocation()
    try:
        _refuse_trust_from_environment(os.environ)
        status = cli.main(standalone_mode=False, obj=invocation)
    except (KeyboardInterrupt, click.Abort):
        _fail("interrupted", ExitStatus.INTERRUPTED, invocation)
    except click.ClickException as err:
        _fail(err.format_message(), ExitStatus.ASKED_WRONGLY, invocation)
    except PacksealError as err:
        _fail(str(err), exit_status(err), invocation)
    sys.exit(status or ExitStatus.DONE)


def _fail(message: str, status: ExitStatus, invocation: _Invocation) -> None:
    if invocation.as_json and status is ExitStatus.ASKED_WRONGLY:
        click.echo(json.dumps({"verified": False, "error": message}, indent=2))
    click.echo(f"packseal: error: {escape(message)}", err=True)
    sys.exit(status)
