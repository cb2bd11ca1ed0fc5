"""Whom a verifying command trusts, as one typed argument: `verify-bundle`, `install`, `lock add`."""

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from signing.backends import BundleVerifier
from signing.backends import minisign as minisign_backend
from signing.cli import quiet_dependencies
from signing.cli.options import sigstore_instance_options
from signing.policy import TrustPolicy
from signing.verify import SignaturePaths

if TYPE_CHECKING:
    from signing.backends.sigstore import SigstoreInstance
    from signing.trustfile import TrustFile

_FILE = click.Path(dir_okay=False, path_type=Path)


@dataclass(frozen=True)
class TrustOptions:
    """A trust policy file, or trusted minisign keys and a Sigstore identity; a Sigstore instance; signatures apart."""

    policy_file: Path | None
    """`--policy`: the TOML trust policy (`signing.trustfile`), instead of the signer options."""
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

    def policy(self) -> "TrustPolicy | TrustFile":
        """The policy file given with --policy, else every system the options name a signer of.

        Sigstore only when an identity option is given, or the policy file lists an identity.
        """
        if self.policy_file is not None:
            return self.trust_file(self.policy_file)
        verifiers: list[BundleVerifier] = []
        if self.minisign_pubkeys:
            verifiers.append(minisign_backend.MinisignKeyring.from_files(self.minisign_pubkeys))
        if self.signer_options:
            from signing.backends import sigstore as sigstore_backend

            instance = self.sigstore_instance()
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

    @property
    def signer_options(self) -> list[str]:
        """The Sigstore signer options given: each one states whom to trust, as a policy file does."""
        identity = {
            "--certificate-identity": self.certificate_identity,
            "--certificate-identity-regexp": self.certificate_identity_regexp,
            "--certificate-oidc-issuer": self.certificate_oidc_issuer,
            "--certificate-oidc-issuer-regexp": self.certificate_oidc_issuer_regexp,
            "--github-repository": self.github_repository,
            "--github-ref": self.github_ref,
            "--github-sha": self.github_sha,
            "--github-workflow-trigger": self.github_workflow_trigger,
        }
        return [option for option, value in identity.items() if value is not None]

    def trust_file(self, path: Path) -> "TrustFile":
        """The policy file, verified against the Sigstore instance the options name; no signer option besides it."""
        given = self.signer_options + (["--minisign-pubkey"] if self.minisign_pubkeys else [])
        if given:
            raise click.UsageError(f"--policy excludes {given[0]}: the policy file says whom to trust")
        from signing.trustfile import TrustFile  # only with --policy: verify-bundle's start-up never loads it

        trust_file = TrustFile.load(path)
        if any(publisher.sigstore for publisher in trust_file.publishers):
            trust_file = replace(trust_file, sigstore=self.sigstore_instance())
        return trust_file

    def sigstore_instance(self) -> "SigstoreInstance":
        """The Sigstore instance the options name; every trust in Sigstore (options or policy file) is built on it."""
        from signing.backends import sigstore as sigstore_backend

        quiet_dependencies()
        return sigstore_backend.SigstoreInstance(
            staging=self.staging, trust_config=self.trust_config, trusted_root=self.trusted_root, offline=self.offline
        )

    def signatures(self) -> SignaturePaths:
        return SignaturePaths(minisign=self.signature, sigstore=self.sigstore_bundle)


def trust_options(command: Callable[..., int]) -> Callable[..., int]:
    """Add the trust options to a command, which receives them as one `trust: TrustOptions` argument."""
    options: list[Callable[[Callable[..., int]], Callable[..., int]]] = [
        click.option(
            "--policy",
            "policy_file",
            type=_FILE,
            help="A trust policy file (TOML): which publisher may sign which bundles; excludes the signer options.",
        ),
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
