"""Install-time verification: run every check in order, and say which one refused.

Fail closed. Checks stop at the first failure, because each later check
would otherwise read input that an earlier one had not yet authenticated,
and a `Verdict` is verified only when every check of its kind ran and passed.
A failed check is the expected outcome of a bad bundle, not an exception:
exceptions are kept for inputs that make verification impossible to ask for
(a bundle path that does not exist).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from attest.canonical import MAX_DOCUMENT_BYTES
from attest.manifest import (
    SIGNATURE_DIR,
    Manifest,
    differences,
    manifest_from_statement,
    manifest_version,
    path_differences,
)
from signing.backends import BundleVerifier, Signer
from signing.bundle import bundle_entries, checked_manifest
from signing.errors import BundleError, PacksealError, PinMismatchError, TrustPolicyError
from signing.files import PathLike, read_regular_file
from signing.formats import malformed_entries
from signing.layout import MANIFEST_NAME, DirectoryLayout, FileLayout, bundle_name, resolve_bundle
from signing.policy import AllOf, CheckName, SourceCheck, TrustPolicy
from signing.progress import Progress
from signing.roles import Role, RoleClaim
from signing.schemas import JSON_SCHEMA_VERSION

if TYPE_CHECKING:
    # Each loaded only where used: provenance and the source checks with a source pin or a policy requiring
    # them, pins with a pin or lock file, the policy file's reader with one; a plain verification never reads
    # them, and start-up is shorter.
    from attest.provenance import Provenance
    from signing.pins import LockFile, SourcePin
    from signing.source_checks import Evidence
    from signing.trustfile import Publisher, TrustFile

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """One verification step: its stable name, whether it passed, and a line saying why.

    `data` holds the same facts as `detail` for a program to read, where
    there are any: the signature files read, the paths that differ
    (`changed`, `missing`, `extra`), the `expected` and `actual` pinned value.
    """

    name: str
    ok: bool
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "data": dict(self.data)}


@dataclass(frozen=True)
class SignaturePaths:
    """Signatures stored apart from the bundle, one per signing system, as cosign's `--bundle` and minisign's `-x`.

    Each replaces where its system's signature over the bundle is looked for
    (a directory's manifest, or a single file); a system not named keeps its
    usual place. One path per system, never one path for "the" signature:
    with two systems trusted, that would leave which one it is to a guess.
    """

    minisign: PathLike | None = None
    """A minisign signature (`.minisig`)."""
    sigstore: PathLike | None = None
    """A Sigstore bundle (`.sigstore.json`)."""

    def for_system(self, system: str) -> Path | None:
        """The path given for `system` ("minisign" or "sigstore"), or None to look in the usual place."""
        given: PathLike | None = getattr(self, system)
        return None if given is None else Path(given)

    def require_trusted(self, policy: TrustPolicy) -> None:
        """Refuse a signature of a system the policy does not trust: it would be ignored, silently."""
        trusted = {verifier.system for verifier in policy.verifiers}
        for system in ("minisign", "sigstore"):
            if self.for_system(system) is not None and system not in trusted:
                raise TrustPolicyError(
                    f"a {system} signature was given, but the trust policy trusts no {system} signer"
                )


@dataclass(frozen=True)
class Verdict:
    """Every check that ran on a bundle, with the digest and signers they established.

    True only when verified: `if verify_bundle(...):` is the install gate.
    `digest` is `sha256:<hex>`, the form the CLI, the JSON and minisign
    trusted comments show: the tree digest of a directory, the file digest
    of a single file.
    """

    bundle: Path
    checks: tuple[Check, ...]
    digest: str | None = None
    signers: tuple[Signer, ...] = ()
    provenance: "Provenance | None" = None
    """The bundle's signed provenance, when a check verified it (a source pin or policy asked for it)."""
    publisher: str | None = None
    """The trust policy file's publisher whose signers the bundle was verified against, with a policy file."""
    version: str | None = None
    """The version signed into a directory's manifest, once its signature verified; None for an unversioned bundle."""

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def __bool__(self) -> bool:
        return self.verified

    @property
    def refusal(self) -> Check | None:
        """The check that refused the bundle, if one did."""
        return next((check for check in self.checks if not check.ok), None)

    def to_json(self) -> dict[str, Any]:
        """The verdict as `verify-bundle --json` prints it (`signing/schemas/output.schema.json`)."""
        return {
            "schema": JSON_SCHEMA_VERSION,
            "verified": self.verified,
            "bundle": str(self.bundle),
            "digest": self.digest,
            "signers": [signer.to_json() for signer in self.signers],
            "publisher": self.publisher,
            "version": self.version,
            "checks": [check.to_json() for check in self.checks],
        }


def verify_bundle(
    path: PathLike,
    policy: "TrustPolicy | TrustFile",
    *,
    signatures: SignaturePaths | None = None,
    pin: "SourcePin | None" = None,
    signatures_dir: PathLike | None = None,
    progress: Progress | None = None,
    fetched_from: str | None = None,
) -> Verdict:
    """Verify a directory or single-file bundle against `policy`, and against `pin` if given.

    With a `TrustFile`, the publisher whose `bundles` match the bundle's
    name is the policy; a bundle no publisher matches is refused (the
    "publisher" check), one that two match raises `TrustPolicyError`, and a
    directory's signed manifest must name the bundle by that same name, so a
    bundle signed as one name cannot be installed under a name another
    publisher is trusted for.

    `signatures` replaces, per system, the usual location of the bundle's
    signature (for one stored apart from the bundle); a path given for a
    system the policy does not trust is refused with `TrustPolicyError`.
    With a `pin`, or a policy whose `source` requires it, the bundle must
    carry provenance signed under the same policy, whose subject is the
    bundle's digest and which states what the pin and the policy require.
    `signatures_dir` is where `sign_bundle(..., output_dir=)` wrote the
    Statements and signatures (`signing.layout`); a directory bundle that
    then still holds a `.packseal/` is refused. `progress` is told of a
    directory's files as they are hashed. `fetched_from` is the
    repository URL a Git install fetched the bundle from: when provenance is
    required, it must name that repository (the "fetched-repository" check).

    Raises `BundleError` for a path that does not exist or lies inside a
    `.packseal/` directory (`signing.layout.resolve_bundle`): neither can be
    a bundle.
    """
    path = Path(path)
    resolve_bundle(path)
    signatures = signatures or SignaturePaths()
    chosen: list[Check] = []
    publisher: Publisher | None = None
    if not isinstance(policy, TrustPolicy):  # a TrustFile, whose module a plain verification never imports
        name = bundle_name(path)
        publisher, found = _publisher_check(policy, name)
        chosen.append(found)
        if publisher is None:
            return Verdict(path, tuple(chosen))
        policy = policy.policy_for(publisher)
    signatures.require_trusted(policy)
    source = policy.source if pin is None else policy.source & pin.checks()
    if fetched_from is not None and source.needs_provenance:
        from signing.source_checks import FetchedFrom

        source = source & AllOf((FetchedFrom(fetched_from),))
    verification = _DirectoryVerification if path.is_dir() else _FileVerification
    apart = None if signatures_dir is None else Path(signatures_dir)
    publisher_name = None if publisher is None else publisher.name
    pinned = pin is not None
    return verification(path, policy, signatures, source, apart, publisher_name, pinned, progress, chosen).run()


def _publisher_check(policy: "TrustFile", name: str) -> "tuple[Publisher | None, Check]":
    """The publisher trusted for bundles named `name`, as a check; none is a refusal, two a policy error."""
    data = {"policy": str(policy.path)}
    found = policy.matching(name)
    if not found:
        detail = f"{policy.path}: no publisher's bundles match {name!r}; refused, as no publisher is trusted for it"
        return None, Check(CheckName.PUBLISHER.value, False, detail, data)
    publisher = policy.publisher_for(name)
    detail = f"publisher {publisher.name!r} of {policy.path} is trusted for bundles named {name!r}"
    return publisher, Check(CheckName.PUBLISHER.value, True, detail, data | {"publisher": publisher.name})


def verify_locked_bundle(
    path: PathLike,
    policy: "TrustPolicy | TrustFile",
    lock: "LockFile",
    *,
    signatures: SignaturePaths | None = None,
    require_checkout: bool = False,
    signatures_dir: PathLike | None = None,
    progress: Progress | None = None,
    fetched_from: str | None = None,
) -> Verdict:
    """Verify a bundle against its entry in a lock file; a bundle absent from it is refused."""
    path = Path(path)
    pin = lock.pin_for(path)
    if pin is None:
        detail = f"{lock.path}: no [bundle.{bundle_name(path)}] entry; an unlocked bundle is refused"
        return Verdict(path, (Check(CheckName.LOCK.value, False, detail, {"lock": str(lock.path)}),))
    return verify_bundle(
        path,
        policy,
        signatures=signatures,
        pin=replace(pin, require_checkout=require_checkout),
        signatures_dir=signatures_dir,
        progress=progress,
        fetched_from=fetched_from,
    )


def lock_pin(
    path: PathLike,
    policy: "TrustPolicy | TrustFile",
    *,
    signatures: SignaturePaths | None = None,
    signatures_dir: PathLike | None = None,
) -> "tuple[Verdict, SourcePin | None]":
    """The pin a lock file should hold for a bundle: what its signed provenance states, once it verified.

    The bundle's signature is verified first; its provenance is then read
    only to propose the pin, and the bundle verified again against that
    pin, so every value returned (digest, repository, commit, ref,
    builder) is one the verification checked. None with a
    verdict that is not verified.
    """
    from attest.provenance import Provenance
    from signing.pins import SourcePin

    path = Path(path)
    apart = None if signatures_dir is None else Path(signatures_dir)
    signed = verify_bundle(path, policy, signatures=signatures, signatures_dir=apart)
    if not signed.verified:
        return signed, None
    provenance_path = DirectoryLayout(path, apart).provenance if path.is_dir() else FileLayout(path, apart).provenance
    try:
        proposed = Provenance.from_bytes(
            read_regular_file(provenance_path, MAX_DOCUMENT_BYTES), what=str(provenance_path)
        )
    except PacksealError as err:
        raise BundleError(f"{err}: a lock entry is made from the bundle's signed provenance") from None
    pin = SourcePin(
        proposed.source_repository, proposed.source_commit, ref=proposed.source_ref, builder_id=proposed.builder_id
    )
    verdict = verify_bundle(path, policy, signatures=signatures, pin=pin, signatures_dir=apart)
    if not verdict.verified:
        return verdict, None
    assert verdict.digest is not None
    return verdict, replace(pin, digest=verdict.digest.removeprefix("sha256:"))


class _Stop(Exception):
    """A check failed; the remaining checks must not run."""


@dataclass
class _Verification:
    path: Path
    policy: TrustPolicy
    signatures: SignaturePaths
    source: AllOf
    """What the bundle's provenance must state: the pin's checks and the policy's."""
    apart: Path | None
    """Where the Statements and signatures are stored apart from the bundle (`signing.layout`), if they are."""
    publisher: str | None
    """The policy file's publisher chosen by the bundle's name, whose signed manifest must state that name."""
    pinned: bool
    """A source pin was given, not only the policy's requirements: refusals say which asked for provenance."""
    progress: Progress | None
    """Told of a directory's files as they are hashed."""
    checks: list[Check] = field(default_factory=list)
    digest: str | None = None
    signers: tuple[Signer, ...] = ()
    provenance: "Provenance | None" = None
    version: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """The structured facts of the check that runs now: `check` empties it before each step."""

    def run(self) -> Verdict:
        try:
            self.steps()
            if self.source:
                self.source_steps()
        except _Stop:
            pass
        digest = None if self.digest is None else f"sha256:{self.digest}"
        return Verdict(
            self.path, tuple(self.checks), digest, self.signers, self.provenance, self.publisher, self.version
        )

    def steps(self) -> None:
        raise NotImplementedError

    @property
    def provenance_path(self) -> Path:
        raise NotImplementedError

    def check(self, name: CheckName, step: Callable[[], tuple[T, str]]) -> T:
        """Run one step; record it as passed with its detail, or as failed with the error.

        A step states its facts for programs in `self.data` as it learns them
        (a signature file before reading it), so a failure carries the facts
        up to the point it failed; a pin mismatch adds its two values.
        """
        self.data = {}
        try:
            value, detail = step()
        except PacksealError as err:
            if isinstance(err, PinMismatchError) and err.expected is not None:
                self.data.update(expected=err.expected, actual=err.actual)
            self.checks.append(Check(name.value, False, str(err), self.data))
            raise _Stop from None
        self.checks.append(Check(name.value, True, detail, self.data))
        return value

    def source_steps(self) -> None:
        """The bundle is authentic; now prove where it came from, one check of the source policy at a time."""
        from signing.source_checks import Evidence

        assert self.digest is not None
        evidence = Evidence(self.path, self.digest)
        for requirement in self.source.before_provenance:
            self.source_check(requirement, evidence)
        if self.source.needs_provenance:
            provenance, signers = self.check(CheckName.PROVENANCE, self._provenance)
            self.check(CheckName.PROVENANCE_SUBJECT, lambda: self._provenance_names(provenance, signers, evidence))
            evidence = replace(evidence, provenance=provenance)
        for requirement in self.source.after_provenance:
            self.source_check(requirement, evidence)

    def source_check(self, requirement: SourceCheck, evidence: "Evidence") -> None:
        self.check(requirement.name, lambda: (None, requirement.verify(evidence)))

    def _provenance(self) -> "tuple[tuple[Provenance, list[Signer]], str]":
        from attest.provenance import Provenance

        try:
            statement, signers = self.verified_statement(self.provenance_path, Role.PROVENANCE)
        except BundleError as err:
            required_by = "a source pin" if self.pinned else "the trust policy"
            raise BundleError(f"{err}: {required_by} requires signed provenance") from None
        provenance = Provenance.from_bytes(statement, what=str(self.provenance_path))
        self.provenance = provenance
        return (provenance, signers), f"{self.provenance_path.name} signed by {_signed_by(signers)}"

    def _provenance_names(
        self, provenance: "Provenance", signers: list[Signer], evidence: "Evidence"
    ) -> tuple[None, str]:
        """Both the provenance and every signature over it name this bundle."""
        named = _subject_names(provenance, evidence.digest)
        _require_claims(signers, RoleClaim(Role.PROVENANCE, evidence.digest), where=self.provenance_path)
        return named

    def verified_statement(
        self, statement_path: Path, role: Role, apart: SignaturePaths | None = None
    ) -> tuple[bytes, list[Signer]]:
        """Read a Statement file and verify it with every verifier, in `role`, before anything parses it.

        Each verifier reads its signature from `apart` when that names one, else beside the Statement.
        """
        statement = read_regular_file(statement_path, MAX_DOCUMENT_BYTES)
        signers = self.all_verify(
            lambda verifier: (
                (apart and apart.for_system(verifier.system)) or verifier.statement_signature(statement_path)
            ),
            lambda verifier, path: verifier.verify_statement(statement, path, role),
        )
        return statement, signers

    def all_verify(
        self, signature_of: Callable[[BundleVerifier], Path], verification: Callable[[BundleVerifier, Path], T]
    ) -> list[T]:
        """Verify with every verifier of the policy; all must pass, and there must be some.

        Each signature file is named in the check's `signatures` before it is
        read, so a refusal says which one failed: the last.
        """
        signatures: list[str] = self.data.setdefault("signatures", [])
        results = []
        for verifier in self.policy.verifiers:
            path = signature_of(verifier)
            signatures.append(str(path))
            results.append(verification(verifier, path))
        if not results:
            raise TrustPolicyError("the trust policy names no signer")
        return results


def _signed_by(signers: list[Signer]) -> str:
    return "; ".join(signer.detail for signer in signers)


def _require_claims(signers: list[Signer], expected: RoleClaim, *, where: Path) -> None:
    """Every signature that states a claim beside what it signs must state exactly `expected`.

    A Sigstore DSSE signature states none beside the Statement: its payload
    is the Statement, whose predicate type the backend checked and whose
    subject the caller checks.
    """
    for signer in signers:
        if signer.claim is not None:
            signer.claim.require(expected, where=str(where))


def _kind(problem: str) -> str:
    """`missing` and `extra` as they are; any other difference of a listed path is `changed`."""
    return problem if problem in ("missing", "extra") else "changed"


def _subject_names(provenance: "Provenance", digest: str) -> tuple[None, str]:
    if digest not in {subject.sha256 for subject in provenance.subjects}:
        named = ", ".join(f"sha256:{subject.sha256}" for subject in provenance.subjects)
        raise PinMismatchError(
            f"provenance is about {named}, not this bundle (sha256:{digest})",
            expected=f"sha256:{digest}",
            actual=[f"sha256:{subject.sha256}" for subject in provenance.subjects],
        )
    return None, f"provenance subject is this bundle, sha256:{digest}"


class _DirectoryVerification(_Verification):
    def steps(self) -> None:
        layout = DirectoryLayout(self.path, self.apart)
        self.check(CheckName.LAYOUT, lambda: self._layout(layout))
        statement, signers = self.check(CheckName.SIGNATURE, lambda: self._signature(layout))
        named, manifest = self.check(CheckName.STATEMENT, lambda: self._statement(statement, signers, layout.manifest))
        self.digest = manifest.digest
        if self.publisher is not None:
            self.check(CheckName.BUNDLE_NAME, lambda: self._named(named))
        self.check(CheckName.FILES, lambda: self._files(manifest))

    @property
    def provenance_path(self) -> Path:
        return DirectoryLayout(self.path, self.apart).provenance

    def _layout(self, layout: DirectoryLayout) -> tuple[None, str]:
        """`.packseal/` holds only packseal's files; those no later check verifies are well formed for their role."""
        problems = layout.unexpected_entries() or malformed_entries(layout, besides=self._verified_files(layout))
        if problems:
            raise BundleError("; ".join(problems))
        return None, f"{layout.shown}/ holds only signature files, each well formed for its role"

    def _verified_files(self, layout: DirectoryLayout) -> set[Path]:
        """The files of `.packseal/` that the signature and provenance checks verify under the policy."""
        statements = [layout.provenance] if self.source.needs_provenance else []
        verified = {layout.manifest, *statements}
        for verifier in self.policy.verifiers:
            signed_here = statements if self.signatures.for_system(verifier.system) else [layout.manifest, *statements]
            verified.update(verifier.statement_signature(statement) for statement in signed_here)
        return verified

    def _signature(self, layout: DirectoryLayout) -> tuple[tuple[bytes, list[Signer]], str]:
        statement, signers = self.verified_statement(layout.manifest, Role.BUNDLE_MANIFEST, self.signatures)
        self.signers = tuple(signers)
        return (statement, signers), f"{MANIFEST_NAME} signed by {_signed_by(signers)}"

    def _statement(self, statement: bytes, signers: list[Signer], where: Path) -> tuple[tuple[str, Manifest], str]:
        parsed, manifest = manifest_from_statement(statement, what=f"{SIGNATURE_DIR}/{MANIFEST_NAME}")
        _require_claims(signers, RoleClaim(Role.BUNDLE_MANIFEST, manifest.digest), where=where)
        self.version = manifest_version(parsed)
        detail = f"bundle manifest of {len(manifest.entries)} entries, tree sha256:{manifest.digest}"
        detail += "" if self.version is None else f", version {self.version}"
        return (parsed.subjects[0].name, manifest), detail

    def _named(self, signed_name: str) -> tuple[None, str]:
        """The manifest was signed for the name the publisher was chosen by: no installing it under another."""
        name = bundle_name(self.path)
        if signed_name != name:
            raise PinMismatchError(
                f"the signed manifest names the bundle {signed_name!r}, but it is verified as {name!r}, "
                f"the name publisher {self.publisher!r} was chosen by",
                expected=name,
                actual=signed_name,
            )
        return None, f"the signed manifest names the bundle {name!r}"

    def _files(self, manifest: Manifest) -> tuple[None, str]:
        actual = bundle_entries(self.path, progress=self.progress)
        found = path_differences(manifest, actual)
        if found:  # a name the rules refuse is refused as such; equal to the signed names, it passed them
            checked_manifest(self.path, actual)
        for kind in ("changed", "missing", "extra"):
            self.data[kind] = [path for problem, path in found if _kind(problem) == kind]
        if found:
            raise BundleError("; ".join(differences(manifest, actual)))
        return None, f"all {len(manifest.entries)} entries present and unchanged, nothing extra"


class _FileVerification(_Verification):
    def steps(self) -> None:
        self.check(CheckName.SIGNATURE, self._signature)

    @property
    def provenance_path(self) -> Path:
        return FileLayout(self.path, self.apart).provenance

    def _signature(self) -> tuple[None, str]:
        results = self.all_verify(
            lambda verifier: (
                self.signatures.for_system(verifier.system)
                or FileLayout(self.path, self.apart).sidecar(verifier.file_signature(self.path))
            ),
            lambda verifier, path: verifier.verify_file(self.path, path),
        )
        digests = {digest.sha256 for _, digest in results}
        if len(digests) != 1:
            raise BundleError(f"{self.path}: changed while it was being verified")
        self.digest = digests.pop()
        signers = [signer for signer, _ in results]
        self.signers = tuple(signers)
        return None, f"signed by {_signed_by(signers)}"
