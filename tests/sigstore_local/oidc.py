"""The OIDC issuer: one ES256 key that mints the identity tokens Fulcio trusts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_local.keys import new_p256_key

EMAIL_ISSUER = "https://oidc.sigstore.local"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "sigstore"
"""The audience sigstore-python requires (``sigstore/oidc.py``, ``_DEFAULT_CLIENT_ID``)."""

_TOKEN_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenIssuer:
    """Mints tokens for both local issuers and verifies them for Fulcio.

    One key signs the email issuer's tokens and the GitHub-shaped ones:
    the ``iss`` claim is what Fulcio copies into the certificate, and a test
    only needs both kinds to be real, verifiable JWTs.
    """

    key: ec.EllipticCurvePrivateKey = field(default_factory=new_p256_key, repr=False)

    def mint(self, claims: dict[str, Any], valid_for: timedelta = _TOKEN_LIFETIME) -> str:
        """A JWT with the registered claims OpenID Connect Core §2 requires, plus `claims`.

        A negative `valid_for` mints an already expired token.
        """
        now = int(time.time())
        registered = {"aud": AUDIENCE, "iat": now, "exp": now + int(valid_for.total_seconds())}
        return jwt.encode(registered | claims, self.key, algorithm="ES256")

    def mint_email(self, email: str, valid_for: timedelta = _TOKEN_LIFETIME) -> str:
        """A token for `email`; Fulcio requires ``email_verified`` for email identities."""
        claims = {"iss": EMAIL_ISSUER, "sub": email, "email": email, "email_verified": True}
        return self.mint(claims, valid_for)

    def mint_github(
        self,
        *,
        repository: str,
        ref: str,
        sha: str,
        workflow_path: str,
        event_name: str,
        job_workflow_ref: str | None = None,
    ) -> str:
        """A token shaped like GitHub Actions' (GitHub docs, "OpenID Connect": example claims).

        sigstore-python takes the identity of this issuer from ``sub``
        (``_KNOWN_OIDC_ISSUERS`` in ``sigstore/oidc.py``); Fulcio derives the
        certificate from the other claims. `job_workflow_ref` names a
        reusable workflow (``owner/repo/path@ref``) the job ran, called from
        `repository`; by default the job ran `repository`'s own workflow.
        """
        owner = repository.split("/")[0]
        workflow_ref = f"{repository}/{workflow_path}@{ref}"
        claims = {
            "iss": GITHUB_ISSUER,
            "sub": f"repo:{repository}:ref:{ref}",
            "repository": repository,
            "repository_id": "1000",
            "repository_owner": owner,
            "repository_owner_id": "2000",
            "repository_visibility": "public",
            "ref": ref,
            "sha": sha,
            "event_name": event_name,
            "workflow": PurePosixPath(workflow_path).stem,
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": job_workflow_ref or workflow_ref,
            "job_workflow_sha": sha,
            "run_id": "3000",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
        }
        return self.mint(claims)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of `token`, if this key signed it for Sigstore and it has not expired.

        Raises ``jwt.InvalidTokenError`` otherwise.
        """
        return jwt.decode(
            token,
            self.key.public_key(),
            algorithms=["ES256"],
            audience=AUDIENCE,
            options={"require": ["aud", "iss", "sub", "iat", "exp"]},
        )
