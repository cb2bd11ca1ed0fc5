"""Install-time verification: run every check in order, and say which one refused.

Fail closed. Checks stop at the first failure, because each later check
would otherwise read input that an earlier one had not yet authenticated,
and a `Verdict` is verified only when every check of its kind ran and passed.
A failed check is the expected outcome of a bad bundle, not an exception:
exceptions are kept for inputs that make verification impossible to ask for
(a bundle path that does not exist).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.errors import AttestError
from attest.manifest import SIGNATURE_DIR, Manifest, differences, manifest_from_statement
from signing.bundle import directory_manifest, read_regular_file
from signing.errors import BundleError, PacksealError
from signing.layout import MANIFEST_NAME, DirectoryLayout, FileLayout
from signing.policy import TrustPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """One verification step: its name, whether it passed, and a line saying why."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """Every check that ran on a bundle, with the digest and signer they established."""

    bundle: Path
    checks: tuple[Check, ...]
    digest: str | None = None
    signer: str | None = None

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def refusal(self) -> Check | None:
        """The check that refused the bundle, if one did."""
        return next((check for check in self.checks if not check.ok), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "bundle": str(self.bundle),
            "digest": f"sha256:{self.digest}" if self.digest else None,
            "signer": self.signer,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def verify_bundle(path: Path, policy: TrustPolicy, *, signature: Path | None = None) -> Verdict:
    """Verify a directory or single-file bundle against `policy`.

    `signature` replaces the default signature location (for a signature
    stored apart from the bundle).
    """
    if path.is_dir():
        return _DirectoryVerification(path, policy, signature).run()
    if path.exists():
        return _FileVerification(path, policy, signature).run()
    raise BundleError(f"{path}: no such file or directory")


class _Stop(Exception):
    """A check failed; the remaining checks must not run."""


@dataclass
class _Verification:
    path: Path
    policy: TrustPolicy
    signature: Path | None
    checks: list[Check] = field(default_factory=list)
    digest: str | None = None
    signer: str | None = None

    def run(self) -> Verdict:
        try:
            self.steps()
        except _Stop:
            pass
        return Verdict(self.path, tuple(self.checks), self.digest, self.signer)

    def steps(self) -> None:
        raise NotImplementedError

    def check(self, name: str, step: Callable[[], tuple[T, str]]) -> T:
        """Run one step; record it as passed with its detail, or as failed with the error."""
        try:
            value, detail = step()
        except (PacksealError, AttestError) as err:
            self.checks.append(Check(name, False, str(err)))
            raise _Stop from None
        self.checks.append(Check(name, True, detail))
        return value


class _DirectoryVerification(_Verification):
    def steps(self) -> None:
        layout = DirectoryLayout(self.path)
        self.check("layout", lambda: self._layout(layout))
        statement = self.check("signature", lambda: self._signature(layout))
        manifest = self.check("statement", lambda: self._statement(statement))
        self.digest = manifest.digest
        self.check("files", lambda: self._files(manifest))

    def _layout(self, layout: DirectoryLayout) -> tuple[None, str]:
        problems = layout.unexpected_entries()
        if problems:
            raise BundleError("; ".join(problems))
        return None, f"{SIGNATURE_DIR}/ holds only signature files"

    def _signature(self, layout: DirectoryLayout) -> tuple[bytes, str]:
        statement = read_regular_file(layout.manifest, MAX_DOCUMENT_BYTES)
        signers = [
            verifier.verify_statement(statement, self.signature or verifier.statement_signature(layout))
            for verifier in self.policy.verifiers
        ]
        self.signer = "; ".join(str(signer) for signer in signers)
        return statement, f"{MANIFEST_NAME} signed by " + "; ".join(signer.detail for signer in signers)

    def _statement(self, statement: bytes) -> tuple[Manifest, str]:
        _, manifest = manifest_from_statement(statement, what=f"{SIGNATURE_DIR}/{MANIFEST_NAME}")
        return manifest, f"bundle manifest of {len(manifest.entries)} entries, tree sha256:{manifest.digest}"

    def _files(self, manifest: Manifest) -> tuple[None, str]:
        problems = differences(manifest, directory_manifest(self.path))
        if problems:
            raise BundleError("; ".join(problems))
        return None, f"all {len(manifest.entries)} entries present and unchanged, nothing extra"


class _FileVerification(_Verification):
    def steps(self) -> None:
        self.check("signature", self._signature)

    def _signature(self) -> tuple[None, str]:
        layout = FileLayout(self.path)
        results = [
            verifier.verify_file(self.path, self.signature or verifier.file_signature(layout))
            for verifier in self.policy.verifiers
        ]
        digests = {digest.sha256 for _, digest in results}
        if len(digests) != 1:
            raise BundleError(f"{self.path}: changed while it was being verified")
        self.digest = digests.pop()
        self.signer = "; ".join(str(signer) for signer, _ in results)
        return None, "signed by " + "; ".join(signer.detail for signer, _ in results)
