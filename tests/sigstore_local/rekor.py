"""Rekor v1: an append-only RFC 6962 log with inclusion proofs, signed checkpoints and SETs."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from sigstore_local import merkle
from sigstore_local.entries import canonical_body
from sigstore_local.errors import RequestRefused
from sigstore_local.keys import LogKey

_TREE_ID = "1"
_ORIGIN = f"rekor.sigstore.local - {_TREE_ID}"
_SIGNER_NAME = "rekor.sigstore.local"


@dataclass(frozen=True)
class _Entry:
    body: bytes
    integrated_time: int


@dataclass
class TransparencyLog:
    """The log state; every method is safe to call from the server's threads."""

    key: LogKey = field(default_factory=LogKey)
    _entries: list[_Entry] = field(default_factory=list)
    _leaves: list[bytes] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """Append `proposed` and return Rekor's 201 answer, keyed by the entry UUID.

        Like Rekor, an entry already in the log is refused with 409 Conflict.
        """
        body = canonical_body(proposed)
        with self._lock:
            if merkle.leaf_hash(body) in self._leaves:
                raise RequestRefused(409, "an equivalent entry already exists in the log")
            self._entries.append(_Entry(body, int(time.time())))
            self._leaves.append(merkle.leaf_hash(body))
            return self._answer(len(self._entries) - 1)

    def by_uuid(self, uuid: str) -> dict[str, Any]:
        """The entry whose UUID (hex leaf hash) is `uuid`, proven against the current tree."""
        with self._lock:
            try:
                index = self._leaves.index(bytes.fromhex(uuid))
            except ValueError:
                raise RequestRefused(404, f"no entry with UUID {uuid!r}") from None
            return self._answer(index)

    def by_index(self, index: int) -> dict[str, Any]:
        """The entry at `index`, proven against the current tree."""
        with self._lock:
            if not 0 <= index < len(self._entries):
                raise RequestRefused(404, f"no entry at log index {index}")
            return self._answer(index)

    def info(self) -> dict[str, Any]:
        """``GET /api/v1/log``: size, root and signed tree head of the current tree."""
        with self._lock:
            root = merkle.root_hash(self._leaves)
            return {
                "rootHash": root.hex(),
                "treeSize": len(self._leaves),
                "signedTreeHead": self._checkpoint(len(self._leaves), root),
                "treeID": _TREE_ID,
            }

    def _checkpoint(self, size: int, root: bytes) -> str:
        """A signed note (transparency-dev log checkpoint format) over origin, size and root.

        The key hint is the first 4 bytes of the log id, which is what
        ``SignedNote.verify`` in ``sigstore/_internal/rekor/checkpoint.py`` matches.
        """
        note = f"{_ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = base64.b64encode(self.key.log_id[:4] + self.key.sign(note.encode())).decode()
        return f"{note}\n\u2014 {_SIGNER_NAME} {signature}\n"

    def _answer(self, index: int) -> dict[str, Any]:
        """An entry as Rekor v1 returns it, with inclusion proof and SET; hashes are hex.

        The SET signs the RFC 8785 canonical JSON of body, integratedTime,
        logID and logIndex, the bytes ``sigstore/models.py`` rebuilds to
        verify the inclusion promise.
        """
        entry, leaves = self._entries[index], self._leaves
        root = merkle.root_hash(leaves)
        promise: dict[str, Any] = {
            "body": base64.b64encode(entry.body).decode(),
            "integratedTime": entry.integrated_time,
            "logID": self.key.log_id.hex(),
            "logIndex": index,
        }
        proof = {
            "logIndex": index,
            "treeSize": len(leaves),
            "rootHash": root.hex(),
            "hashes": [node.hex() for node in merkle.inclusion_path(index, leaves)],
            "checkpoint": self._checkpoint(len(leaves), root),
        }
        verification = {
            "signedEntryTimestamp": base64.b64encode(self.key.sign(rfc8785.dumps(promise))).decode(),
            "inclusionProof": proof,
        }
        return {leaves[index].hex(): promise | {"verification": verification}}
