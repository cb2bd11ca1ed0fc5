"""Assembles the services into one running instance and the handle tests use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from sigstore_local.actions import ID_TOKEN_PATH, ActionsIdTokens
from sigstore_local.ca import CertificateAuthority
from sigstore_local.ctlog import CertificateTransparencyLog
from sigstore_local.fulcio import Fulcio
from sigstore_local.oidc import EMAIL_ISSUER, GITHUB_ISSUER, TokenIssuer
from sigstore_local.principal import ISSUER_ARCS
from sigstore_local.rekor import TransparencyLog
from sigstore_local.server import SigstoreServer
from sigstore_local.trust import write_trust_files


@dataclass(frozen=True)
class SigstoreInstance:
    """A running local Sigstore: its URL, trust files, and token minting for its issuers."""

    github_issuer: ClassVar[str] = GITHUB_ISSUER
    email_issuer: ClassVar[str] = EMAIL_ISSUER

    url: str
    trust_config: Path
    trusted_root: Path
    token_issuer: TokenIssuer = field(repr=False)
    actions: ActionsIdTokens = field(repr=False)

    def mint_token(self, identity: str, *, valid_for: timedelta = timedelta(minutes=5)) -> str:
        """An identity token for the email `identity` from `email_issuer`."""
        return self.token_issuer.mint_email(identity, valid_for)

    def mint_github_token(
        self,
        *,
        repository: str,
        ref: str,
        sha: str,
        workflow_path: str = ".github/workflows/release.yml",
        event_name: str = "push",
        job_workflow_ref: str | None = None,
    ) -> str:
        """A GitHub Actions token; the certificate identity becomes
        ``https://github.com/{repository}/{workflow_path}@{ref}``, or, for a
        job that called a reusable workflow, ``https://github.com/{job_workflow_ref}``."""
        return self.token_issuer.mint_github(
            repository=repository,
            ref=ref,
            sha=sha,
            workflow_path=workflow_path,
            event_name=event_name,
            job_workflow_ref=job_workflow_ref,
        )

    def github_actions_environment(self, **job: str) -> dict[str, str]:
        """The variables a runner gives a job with ``permissions: id-token: write``.

        `job` takes the arguments of `mint_github_token`, which mints the
        token the job fetches with them from this instance.
        """
        request_token = self.actions.start_job(lambda: self.mint_github_token(**job))
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}{ID_TOKEN_PATH}?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }


@contextmanager
def running_instance(directory: Path, *, issuer_arcs: frozenset[int] = ISSUER_ARCS) -> Iterator[SigstoreInstance]:
    """Start an instance with fresh keys, its trust files in `directory`; stop it on exit.

    `issuer_arcs` are the issuer extensions its certificates carry: by
    default both, as public-good Fulcio writes them (.1.1 and .1.8).
    """
    token_issuer, ct_log, rekor = TokenIssuer(), CertificateTransparencyLog(), TransparencyLog()
    authority = CertificateAuthority(ct_log)
    actions = ActionsIdTokens()
    server = SigstoreServer(Fulcio(token_issuer, authority, issuer_arcs), rekor, actions)
    trusted_root, trust_config = write_trust_files(directory, server.url, authority, ct_log.key, rekor.key)
    server.start()
    try:
        yield SigstoreInstance(server.url, trust_config, trusted_root, token_issuer, actions)
    finally:
        server.stop()
