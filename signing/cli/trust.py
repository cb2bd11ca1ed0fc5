"""The options that say whom a verifying command trusts, as one typed argument: `verify-bundle`, `lock add`."""

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click

from signing.backends import BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.cli.options import sigstore_instance_options
from signing.policy import TrustPolicy
from signing.verify import SignaturePaths

_FILE = click.Path(dir_okay=False, path_type=Path)


@dataclass(frozen=True)
class TrustOptions:
    """Trusted minisign keys, a Sigstore identity and instance, and signatures stored apart."""

    minisign_pubkeys: tuple[Path, ...]
    certificate_identity: str | None
    certificate_identity_regexp: str | None
    certificate_oidc_issuer: str | None
    certificate_oidc_issuer_regexp: str | None
    github_repository: str | None
    github_ref: str | None
    github_sha: str | None
    github_workflow_trigger: str | None
    offline: bool
    trusted_root: Path | None
    staging: bool
    trust_config: Path | None
    signature: Path | None
    sigstore_bundle: Path | None
    signatures_dir: Path | None
    """Where `sign --output-dir` wrote the Statements and signatures, instead of the bundle's `.packseal/`."""

    def policy(self) -> TrustPolicy:
        """Every system the options name a signer of; Sigstore only when an identity option is given."""
        verifiers: list[BundleVerifier] = []
        if self.minisign_pubkeys:
            verifiers.append(minisign_backend.MinisignKeyring.from_files(self.minisign_pubkeys))
        identity = (
            self.certificate_identity, self.certificate_identity_regexp, self.certificate_oidc_issuer,
            self.certificate_oidc_issuer_regexp, self.github_repository, self.github_ref, self.github_sha,
            self.github_workflow_trigger,
        )  # fmt: skip
        if any(value is not None for value in identity):
            from signing.backends import sigstore as sigstore_backend

            instance = sigstore_backend.SigstoreInstance(
                staging=self.staging,
                trust_config=self.trust_config,
                trusted_root=self.trusted_root,
                offline=self.offline,
            )
            identity_policy = sigstore_backend.SigstoreIdentityPolicy(
                identity=self.certificate_identity,
                identity_regexp=self.certificate_identity_regexp,
                issuer=self.certificate_oidc_issuer,
                issuer_regexp=self.certificate_oidc_issuer_regexp,
                github_repository=self.github_repository,
                github_ref=self.github_ref,
                github_sha=self.github_sha,
                github_workflow_trigger=self.github_workflow_trigger,
            )
            verifiers.append(sigstore_backend.SigstoreVerifier(instance, identity_policy))
        return TrustPolicy(tuple(verifiers))

    def signatures(self) -> SignaturePaths:
        return SignaturePaths(minisign=self.signature, sigstore=self.sigstore_bundle)


def trust_options(command: Callable[..., int]) -> Callable[..., int]:
    """Add the trust options to a command, which receives them as one `trust: TrustOptions` argument."""
    options: list[Callable[[Callable[..., int]], Callable[..., int]]] = [
        click.option(
            "--minisign-pubkey",
            "minisign_pubkeys",
            multiple=True,
            type=_FILE,
            help="A trusted minisign public key; repeat for several (key rotation).",
        ),
        click.option("--certificate-identity", help="Sigstore: the exact signer identity (certificate SAN)."),
        click.option("--certificate-identity-regexp", help="Sigstore: a regexp the whole identity must match."),
        click.option("--certificate-oidc-issuer", help="Sigstore: the exact OIDC issuer."),
        click.option("--certificate-oidc-issuer-regexp", help="Sigstore: a regexp the whole issuer must match."),
        click.option("--github-repository", help="Sigstore: the GitHub repository (owner/name) that signed."),
        click.option("--github-ref", help="Sigstore: the Git ref the workflow ran on."),
        click.option("--github-sha", help="Sigstore: the commit the workflow ran on."),
        click.option("--github-workflow-trigger", help="Sigstore: the event that triggered the workflow."),
        click.option("--offline", is_flag=True, help="Sigstore: no network; the trusted root shipped with sigstore."),
        click.option("--trusted-root", type=_FILE, help="Sigstore: a trusted root JSON."),
        sigstore_instance_options,
        click.option(
            "--signature",
            type=_FILE,
            help="minisign: the signature stored apart from the bundle (a directory's is over its manifest), as -x.",
        ),
        click.option(
            "--bundle",
            "sigstore_bundle",
            type=_FILE,
            help="Sigstore: the bundle (.sigstore.json) stored apart from what is verified, as in cosign and sigstore.",
        ),
        click.option(
            "--signatures-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Read the signatures from this directory (from sign --output-dir), not .packseal/ or beside PATH.",
        ),
    ]
    names = [field.name for field in fields(TrustOptions)]

    @functools.wraps(command)
    def with_trust(**arguments: Any) -> int:
        trust = TrustOptions(**{name: arguments.pop(name) for name in names})
        return command(trust=trust, **arguments)

    decorated: Callable[..., int] = with_trust
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
