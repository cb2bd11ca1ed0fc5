"""GitHub Actions' ID-token endpoint: the ambient credential of a job with ``id-token: write``.

The runner gives such a job ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. The ``id`` package
(``id/_internal/oidc/ambient.py``, ``detect_github``) GETs that URL with
``audience=sigstore`` added to its query, sends ``Authorization: bearer
<request token>``, and reads the JWT from ``{"value": ...}``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigstore_local.errors import RequestRefused
from sigstore_local.oidc import AUDIENCE

ID_TOKEN_PATH = "/_apis/actions/idtoken"
"""Any path would do: a job only ever learns it from ``ACTIONS_ID_TOKEN_REQUEST_URL``."""


@dataclass
class ActionsIdTokens:
    """Mints a job's GitHub-shaped token for whoever holds that job's request token."""

    _jobs: dict[str, Callable[[], str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start_job(self, mint: Callable[[], str]) -> str:
        """Register a job whose token `mint` makes; return the secret only that job is given."""
        request_token = secrets.token_urlsafe(32)
        with self._lock:
            self._jobs[request_token] = mint
        return request_token

    def id_token(self, authorization: str | None, query: dict[str, list[str]]) -> dict[str, Any]:
        """The part of GitHub's answer that clients read: ``{"value": <jwt>}``.

        The local issuer mints only for audience ``sigstore``, the one
        Fulcio accepts; GitHub would mint any audience, so asking for
        another is refused rather than answered with a token Fulcio refuses.
        """
        mint = self._job(authorization)
        audience = query.get("audience", [None])[-1]
        if audience != AUDIENCE:
            raise RequestRefused(400, f"audience {audience!r}: only {AUDIENCE!r} is minted here")
        return {"value": mint()}

    def _job(self, authorization: str | None) -> Callable[[], str]:
        scheme, _, request_token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not request_token:
            raise RequestRefused(401, "missing 'Authorization: bearer <request token>' header")
        with self._lock:
            jobs = list(self._jobs.items())
        for known, mint in jobs:
            if hmac.compare_digest(known.encode(), request_token.encode()):
                return mint
        raise RequestRefused(401, "request token is not that of a running job")
