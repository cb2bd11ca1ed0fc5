"""`packseal sign` and `packseal attest`: choose a signing system from the options, call the library, print."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from signing.backends import BundleSigning
from signing.backends import minisign as minisign_backend
from signing.cli import quiet_dependencies
from signing.cli.keys import PASSWORD_FILE_HELP, unlocked_secret_key
from signing.cli.options import option_group, quiet_option, sigstore_instance_options
from signing.progress import Progress, progress_for_terminal
from signing.sign import SignedBundle, attest_bundle, bundle_build_facts, sign_bundle
from signing.terminal import escape


@dataclass(frozen=True)
class _SigningOptions:
    minisign_key: Path | None
    password_file: Path | None
    trusted_comment: str | None
    use_sigstore: bool
    identity_token: str | None
    staging: bool
    trust_config: Path | None


_signing_options = option_group(
    _SigningOptions,
    "signing",
    [
        click.option("--minisign-key", type=click.Path(dir_okay=False, path_type=Path), help="Sign with this key."),
        click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), help=PASSWORD_FILE_HELP),
        click.option("--trusted-comment", help="minisign: default names the bundle, its digest and the time."),
        click.option("--sigstore", "use_sigstore", is_flag=True, help="Sign keylessly with Sigstore."),
        click.option("--identity-token", help="Sigstore: the OIDC token; default is the CI's ambient credential."),
        sigstore_instance_options,
    ],
)
"""The options that choose a signing system and its key or identity, as one argument."""

_output_dir = click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the signatures here, not into PATH (which may be read-only); created if missing.",
)


@contextmanager
def _signing(options: _SigningOptions, progress: Progress) -> Iterator[BundleSigning]:
    """The signing system the options name; a minisign secret key is wiped afterwards."""
    if (options.minisign_key is None) == (not options.use_sigstore):
        raise click.UsageError("give exactly one of --minisign-key and --sigstore")
    if options.use_sigstore:
        from signing.backends import sigstore as sigstore_backend

        quiet_dependencies()
        instance = sigstore_backend.SigstoreInstance(staging=options.staging, trust_config=options.trust_config)
        instance.client_trust_config  # noqa: B018 - load it now: a bad trust config is a usage error
        yield sigstore_backend.SigstoreSigning(
            instance, sigstore_backend.identity_token(options.identity_token, instance)
        )
        return
    assert options.minisign_key is not None
    with unlocked_secret_key(options.minisign_key, options.password_file, progress) as secret_key:
        yield minisign_backend.MinisignSigning(secret_key, options.trusted_comment)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@_signing_options
@_output_dir
@click.option(
    "--bundle-version",
    help="Sign this version into a directory's manifest, for installers' rollback protection (PEP 440 or SemVer).",
)
@quiet_option
def sign(path: Path, signing: _SigningOptions, output_dir: Path | None, bundle_version: str | None, quiet: bool) -> int:
    """Sign PATH, a bundle directory or a single file, with minisign or Sigstore."""
    with (
        progress_for_terminal(sys.stderr, label="signing", quiet=quiet) as progress,
        _signing(signing, progress) as chosen,
    ):
        signed = sign_bundle(path, chosen, output_dir=output_dir, version=bundle_version, progress=progress)
    _report("signed", signed)
    if bundle_version is not None:
        click.echo(f"  version {escape(bundle_version)}")
    return 0


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@_signing_options
@click.option("--source-repo", help="The source repository URL (default: from CI or the checkout's origin).")
@click.option("--source-commit", help="The full source commit (default: from CI or the checkout's HEAD).")
@click.option(
    "--source-ref",
    help="The full source ref, refs/tags/v1.2 (default: from CI or the checkout's branch; none when detached).",
)
@click.option("--builder-id", help="Who built it; required outside GitHub Actions.")
@click.option("--allow-dirty", is_flag=True, help="Attest even when the checkout has uncommitted changes.")
@_output_dir
@quiet_option
def attest(
    path: Path,
    signing: _SigningOptions,
    source_repo: str | None,
    source_commit: str | None,
    source_ref: str | None,
    builder_id: str | None,
    allow_dirty: bool,
    output_dir: Path | None,
    quiet: bool,
) -> int:
    """Write and sign SLSA provenance for PATH, a bundle: its source repository, commit and builder."""
    from attest.build_facts import ExplicitSource  # reads Git (dulwich): `sign`, in this module too, does not

    started_on = datetime.now(UTC)
    explicit = ExplicitSource(repository=source_repo, commit=source_commit, builder_id=builder_id, ref=source_ref)
    facts = bundle_build_facts(path, explicit, allow_dirty=allow_dirty)
    with (
        progress_for_terminal(sys.stderr, label="attesting", quiet=quiet) as progress,
        _signing(signing, progress) as chosen,
    ):
        attested = attest_bundle(path, facts, chosen, started_on=started_on, output_dir=output_dir, progress=progress)
    _report("attested", attested)
    return 0


def _report(action: str, signed: SignedBundle) -> None:
    click.echo(f"{action} {escape(str(signed.path))} ({signed.digest})")
    for written in signed.written:
        click.echo(f"  wrote {escape(str(written))}")
