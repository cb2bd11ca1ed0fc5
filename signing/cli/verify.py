"""`packseal verify-bundle`: build the trust policy and pin from the options, verify, print the verdict."""

import json
from pathlib import Path

import click

from signing.backends import BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.cli.options import sigstore_instance_options
from signing.errors import ExitStatus, TrustPolicyError
from signing.pins import LockFile, SourcePin
from signing.policy import TrustPolicy
from signing.terminal import escape
from signing.verify import SignaturePaths, Verdict, verify_bundle, verify_locked_bundle


@click.command("verify-bundle")
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
@sigstore_instance_options
@click.option(
    "--signature",
    type=click.Path(dir_okay=False, path_type=Path),
    help="minisign: the signature stored apart from the bundle (a directory's: over its manifest), as minisign -x.",
)
@click.option(
    "--bundle",
    "sigstore_bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sigstore: the bundle (.sigstore.json) stored apart from the bundle verified, as cosign and sigstore --bundle.",
)
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
    sigstore_bundle: Path | None,
    source_repo: str | None,
    source_commit: str | None,
    source_ref: str | None,
    builder_id: str | None,
    git_checkout: bool,
    lock: Path | None,
    as_json: bool,
    **identity: str | None,
) -> int:
    """Verify PATH, a bundle directory or single file, before installing it; exit 0 only when it is verified."""
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
    policy = TrustPolicy(tuple(verifiers))
    signatures = SignaturePaths(minisign=signature, sigstore=sigstore_bundle)
    if lock is not None:
        verdict = verify_locked_bundle(
            path, policy, LockFile.read(lock), signatures=signatures, require_checkout=git_checkout
        )
    else:
        verdict = verify_bundle(path, policy, signatures=signatures, pin=pin)
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
