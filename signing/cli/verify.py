"""`packseal verify-bundle`: build the trust policy and pin from the options, verify, print the verdict."""

import json
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signing.backends import BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.cli.options import option_group, sigstore_instance_options
from signing.errors import ExitStatus, TrustPolicyError
from signing.pins import LockFile, SourcePin
from signing.policy import TrustPolicy
from signing.terminal import escape
from signing.verify import Verdict, verify_bundle, verify_locked_bundle

if TYPE_CHECKING:
    from signing.backends.sigstore import SigstoreIdentityPolicy


@dataclass(frozen=True)
class _IdentityOptions:
    """The Sigstore identity options; any of them given means Sigstore is trusted."""

    certificate_identity: str | None
    certificate_identity_regexp: str | None
    certificate_oidc_issuer: str | None
    certificate_oidc_issuer_regexp: str | None
    github_repository: str | None
    github_ref: str | None
    github_sha: str | None
    github_workflow_trigger: str | None

    def policy(self) -> "SigstoreIdentityPolicy | None":
        """The identity policy they state; None when none is given (Sigstore is not loaded then)."""
        if all(value is None for value in astuple(self)):
            return None
        from signing.backends.sigstore import SigstoreIdentityPolicy

        return SigstoreIdentityPolicy(
            identity=self.certificate_identity,
            identity_regexp=self.certificate_identity_regexp,
            issuer=self.certificate_oidc_issuer,
            issuer_regexp=self.certificate_oidc_issuer_regexp,
            github_repository=self.github_repository,
            github_ref=self.github_ref,
            github_sha=self.github_sha,
            github_workflow_trigger=self.github_workflow_trigger,
        )


@click.command("verify-bundle")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--minisign-pubkey",
    "minisign_pubkeys",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trusted minisign public key; repeat for several (key rotation).",
)
@option_group(
    _IdentityOptions,
    "identity",
    [
        click.option("--certificate-identity", help="Sigstore: the exact signer identity (certificate SAN)."),
        click.option("--certificate-identity-regexp", help="Sigstore: a regexp the whole identity must match."),
        click.option("--certificate-oidc-issuer", help="Sigstore: the exact OIDC issuer."),
        click.option("--certificate-oidc-issuer-regexp", help="Sigstore: a regexp the whole issuer must match."),
        click.option("--github-repository", help="Sigstore: the GitHub repository (owner/name) that signed."),
        click.option("--github-ref", help="Sigstore: the Git ref the workflow ran on."),
        click.option("--github-sha", help="Sigstore: the commit the workflow ran on."),
        click.option("--github-workflow-trigger", help="Sigstore: the event that triggered the workflow."),
    ],
)
@click.option("--offline", is_flag=True, help="Sigstore: no network; the trusted root shipped with sigstore.")
@click.option("--trusted-root", type=click.Path(dir_okay=False, path_type=Path), help="Sigstore: a trusted root JSON.")
@sigstore_instance_options
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
    identity: _IdentityOptions,
) -> int:
    """Verify a bundle before installing it; exit 0 only when it is verified."""
    pin = SourcePin.from_options(
        source_repo,
        source_commit,
        ref=source_ref,
        builder_id=builder_id,
        require_checkout=git_checkout,
        locked=lock is not None,
    )
    verifiers: list[BundleVerifier] = []
    if minisign_pubkeys:
        verifiers.append(minisign_backend.MinisignKeyring.from_files(minisign_pubkeys))
    identity_policy = identity.policy()
    if identity_policy is not None:
        from signing.backends import sigstore as sigstore_backend

        instance = sigstore_backend.SigstoreInstance(
            staging=staging, trust_config=trust_config, trusted_root=trusted_root, offline=offline
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


def _summary(verdict: Verdict) -> str:
    lines = [f"{'VERIFIED' if verdict.verified else 'REFUSED'} {escape(str(verdict.bundle))}"]
    if verdict.digest:
        lines.append(f"  digest  {escape(verdict.digest)}")
    if verdict.signers:
        lines.append(f"  signer  {escape('; '.join(str(signer) for signer in verdict.signers))}")
    for check in verdict.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {escape(check.detail)}")
    return "\n".join(lines)
