"""Sigstore keyless signing and verification, through the `sigstore` package.

Everything cryptographic (Fulcio certificate, SCT, Rekor inclusion proof,
checkpoint, SET, DSSE) is sigstore-python's; this module chooses the
instance, obtains the identity, states the policy, and turns sigstore's
errors into one line that names the check that failed.

Importing this module imports `sigstore` (about half a second), so nothing
imports it unless Sigstore is actually used.
"""

import json
import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat import asn1
from cryptography.x509.oid import ObjectIdentifier
from pydantic import ValidationError
from requests import RequestException
from sigstore._internal.fulcio.client import FulcioClientError
from sigstore._internal.rekor import RekorClientError
from sigstore._internal.tuf import DEFAULT_TUF_URL, STAGING_TUF_URL, _get_dirs
from sigstore._utils import read_embedded
from sigstore.dsse import Statement as DSSEStatement
from sigstore.errors import Error as SigstoreError
from sigstore.errors import VerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityToken, Issuer, detect_credential
from sigstore.sign import Signer, SigningContext
from sigstore.verify import Verifier
from sigstore.verify import policy as sigstore_policy
from sigstore_models.common.v1 import HashAlgorithm

from attest.errors import AttestError
from attest.statement import Statement, foreign_statement, statement_predicate_type
from signing.digest import FileDigest, file_digest
from signing.errors import BundleError, IdentityError, PacksealError, SignatureError, SigningError, TrustPolicyError
from signing.files import PathLike, read_regular_file
from signing.formats import IN_TOTO_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MAX_BYTES
from signing.layout import sigstore_bundle
from signing.roles import Role, RoleClaim

T = TypeVar("T")

_OIDC_ISSUER_V1_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_OIDC_ISSUER_V2_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


@dataclass(frozen=True)
class SigstoreInstance:
    """Which Sigstore to use: production (default), staging, or a private one.

    `trust_config` is a `ClientTrustConfig` JSON file (trusted root and
    signing config); `trusted_root` a bare trusted root, enough to verify.
    `offline` verifies with the trusted root shipped inside the installed
    `sigstore` (or the one given), makes no network call, and reads and
    writes nothing under HOME. Otherwise production and staging refresh
    their trusted root from Sigstore's TUF repository, which
    sigstore-python caches under HOME.
    """

    staging: bool = False
    trust_config: PathLike | None = None
    trusted_root: PathLike | None = None
    offline: bool = False

    def __post_init__(self) -> None:
        if self.staging and (self.trust_config or self.trusted_root):
            raise TrustPolicyError("--staging excludes --trust-config and --trusted-root")

    def signing_context(self) -> SigningContext:
        return SigningContext.from_trust_config(self.client_trust_config)

    def verifier(self) -> Verifier:
        if self.trusted_root is not None:
            path = self.trusted_root
            return Verifier(trusted_root=_load(path, "trusted root", lambda _: TrustedRoot.from_file(str(path))))
        return Verifier(trusted_root=self.client_trust_config.trusted_root)

    @cached_property
    def client_trust_config(self) -> ClientTrustConfig:
        """The trusted root and signing config, loaded once; unusable ones are the caller's mistake."""
        if self.trust_config is not None:
            return _load(
                self.trust_config, "Sigstore trust config", lambda data: ClientTrustConfig.from_json(data.decode())
            )
        url = STAGING_TUF_URL if self.staging else DEFAULT_TUF_URL
        return _shipped_trust_config(url) if self.offline else _refreshed_trust_config(url)


def _shipped_trust_config(url: str) -> ClientTrustConfig:
    """The trusted root and signing config shipped inside `sigstore` for the TUF repository `url`.

    Read from the package itself, as sigstore-python reads its bootstrap
    data: its own offline mode (`ClientTrustConfig.production(offline=True)`)
    would instead read the TUF cache under HOME unverified, so whoever can
    write that cache would choose the root.
    """
    try:
        document = {
            "mediaType": ClientTrustConfig.ClientTrustConfigType.CONFIG_0_1.value,
            "trustedRoot": json.loads(read_embedded("trusted_root.json", url)),
            "signingConfig": json.loads(read_embedded("signing_config.v0.2.json", url)),
        }
        return ClientTrustConfig.from_json(json.dumps(document))
    except (OSError, ValueError, SigstoreError) as err:
        raise TrustPolicyError(f"the Sigstore trusted root shipped for {url} is unusable: {_one_line(err)}") from None


def shipped_trusted_root_date(*, staging: bool = False) -> datetime:
    """When the trusted root shipped inside `sigstore` was last changed, as far as it says: read offline.

    A trusted root carries no date of its own; this is the newest
    `validFor.start` among its certificate authorities, transparency logs,
    CT logs and timestamp authorities, the last key it added. A root older
    than a key Sigstore has since rotated to cannot verify what that key signs.
    """
    url = STAGING_TUF_URL if staging else DEFAULT_TUF_URL
    try:
        root = json.loads(read_embedded("trusted_root.json", url))
        starts = [
            datetime.fromisoformat(entry["validFor"]["start"])
            for kind in ("certificateAuthorities", "tlogs", "ctlogs", "timestampAuthorities")
            for entry in root.get(kind, [])
            if "start" in entry.get("validFor", {})
        ]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise TrustPolicyError(f"the Sigstore trusted root shipped for {url} is unusable: {_one_line(err)}") from None
    if not starts:
        raise TrustPolicyError(f"the Sigstore trusted root shipped for {url} states no validity dates")
    return max(starts)


def _refreshed_trust_config(url: str) -> ClientTrustConfig:
    """The trust config for `url`, refreshed through TUF by sigstore-python (network, cache under HOME).

    Any failure is one line naming it and the ways to verify without a
    refresh. The cache is checked first, because TUF opens its files with a
    blocking `open`: a FIFO there would hang the verifier.
    """
    try:
        unusable = _special_file_in(_get_dirs(url))
        if unusable is None:
            if url == STAGING_TUF_URL:
                return ClientTrustConfig.staging()
            return ClientTrustConfig.production()
        reason = f"{unusable} in its cache is not a regular file"
    except (SigstoreError, OSError, ValueError) as err:
        reason = _with_cause(err)
    raise TrustPolicyError(
        f"cannot refresh the Sigstore trusted root through TUF from {url}: {reason}; verify with --offline "
        "(the root shipped in sigstore) or give the root with --trusted-root or --trust-config"
    )


_TUF_CACHE_DEPTH = 2
"""sigstore-python's TUF directories hold files and one level of subdirectories (root_history)."""


def _special_file_in(directories: tuple[Path, ...]) -> Path | None:
    """The first entry in `directories` (existing or not) that is neither a regular file nor a directory."""
    pending = [(directory, 0) for directory in directories if directory.is_dir()]
    while pending:
        directory, depth = pending.pop()
        for entry in os.scandir(directory):
            try:
                mode = entry.stat().st_mode
            except FileNotFoundError:  # a dangling link: TUF replaces it
                continue
            if stat.S_ISDIR(mode) and not entry.is_symlink() and depth < _TUF_CACHE_DEPTH:
                pending.append((Path(entry.path), depth + 1))
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                return Path(entry.path)
    return None


def identity_token(explicit: str | None, instance: SigstoreInstance) -> IdentityToken:
    """The OIDC identity to sign as: given, else the CI's ambient credential, else a browser flow.

    The ambient credential (`id`) covers GitHub Actions (with `id-token:
    write`), GitLab, Buildkite, Google Cloud and others. The interactive flow
    runs only on a terminal; without any of the three, signing is refused.
    """
    try:
        raw = explicit or detect_credential()
        if raw:
            return IdentityToken(raw)
        if sys.stdin.isatty():
            return Issuer(instance.client_trust_config.signing_config.get_oidc_url()).identity_token()
    except SigstoreError as err:
        raise IdentityError(f"identity token: {_one_line(err)}") from None
    raise IdentityError(
        "no identity for keyless signing: pass --identity-token, run in CI with an OIDC "
        "credential (GitHub Actions: permissions id-token: write), or run on a terminal"
    )


@dataclass(frozen=True)
class SigstoreSigning:
    """Keyless signing as `token`'s identity, on `instance`; every signature is logged in Rekor."""

    instance: SigstoreInstance
    token: IdentityToken

    def sign_statement(
        self, statement_path: Path, statement: bytes, claim: RoleClaim, description: str
    ) -> tuple[Path, bytes]:
        """A bundle v0.3 with a DSSE envelope over the Statement bytes, exactly as given.

        The Statement states its own role (its predicate type) and subject,
        so the claim needs no comment beside it; it must agree with them.
        """
        try:
            predicate_type = statement_predicate_type(statement, what=str(statement_path))
        except AttestError as err:
            raise SigningError(str(err)) from None
        if predicate_type != claim.role.predicate_type:
            raise SigningError(
                f"{statement_path}: a {predicate_type} Statement cannot be signed as a {claim.role.value}"
            )
        bundle = self._sign(lambda signer: signer.sign_dsse(DSSEStatement(statement)))
        return sigstore_bundle(statement_path, statement=True), bundle

    def sign_file(self, path: Path, digest: FileDigest, description: str) -> tuple[Path, bytes]:
        """A bundle v0.3 over the file's sha256 (hashedrekord), as `sigstore sign` makes it."""
        bundle = self._sign(lambda signer: signer.sign_artifact(_hashed(digest)))
        return sigstore_bundle(path, statement=False), bundle

    def _sign(self, sign: Callable[[Signer], Bundle]) -> bytes:
        """Sign; a failure names sigstore's error type, since some carry no message (FulcioClientError)."""
        try:
            with self.instance.signing_context().signer(self.token) as signer:
                return sign(signer).to_json().encode()
        except (SigstoreError, ValueError, FulcioClientError, RekorClientError, RequestException) as err:
            raise SigningError(
                f"Sigstore signing failed: {type(err).__name__}: {_one_line(err) or 'no detail'}"
            ) from None


@dataclass(frozen=True)
class SigstoreSigner:
    """The identity (certificate SAN) and OIDC issuer a Sigstore bundle was signed by.

    Its `claim` is always None: what a Sigstore bundle signs is the
    Statement itself, whose predicate type is its role and whose subjects
    are checked where the Statement is read.
    """

    identity: str
    issuer: str
    claim: None = None

    def __str__(self) -> str:
        return f"sigstore {self.identity}"

    def to_json(self) -> dict[str, str]:
        return {"system": "sigstore", "identity": self.identity, "issuer": self.issuer}

    @property
    def detail(self) -> str:
        return f"Sigstore certificate for {self.identity}, issuer {self.issuer}; chain, SCT and log inclusion verified"


@dataclass(frozen=True)
class SigstoreIdentityPolicy:
    """Whom to trust: an identity and an issuer, each exact or an anchored regexp.

    There is no "any signer" mode: one of identity / identity_regexp and one
    of issuer / issuer_regexp are required. The GitHub claims, when given,
    must each match exactly (sigstore-python's `verify github` policies).
    A regexp must match the whole value (`re.fullmatch`), so
    `https://github.com/acme/.*` cannot be satisfied by a longer prefix trick
    such as `https://github.com/acme/pack@evil` unless the pattern allows it.
    """

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    github_repository: str | None = None
    github_ref: str | None = None
    github_sha: str | None = None
    github_workflow_trigger: str | None = None

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regexp is None):
            raise TrustPolicyError("give exactly one of --certificate-identity and --certificate-identity-regexp")
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise TrustPolicyError("give exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp")
        stated = (self.identity, self.identity_regexp, self.issuer, self.issuer_regexp)
        if any(value == "" for value in stated):
            raise TrustPolicyError("an empty certificate identity or issuer would trust anyone")
        for pattern in (self.identity_regexp, self.issuer_regexp):
            if pattern is not None:
                _compile(pattern)

    def sigstore_policy(self) -> sigstore_policy.VerificationPolicy:
        """The composed sigstore-python policy; each part checks one thing."""
        parts: list[sigstore_policy.VerificationPolicy] = [
            _issuer_is(self.issuer) if self.issuer is not None else _issuer_matches(self.issuer_regexp or ""),
            _identity_is(self.identity) if self.identity is not None else _identity_matches(self.identity_regexp or ""),
        ]
        claims = [
            (sigstore_policy.GitHubWorkflowRepository, self.github_repository),
            (sigstore_policy.GitHubWorkflowRef, self.github_ref),
            (sigstore_policy.GitHubWorkflowSHA, self.github_sha),
            (sigstore_policy.GitHubWorkflowTrigger, self.github_workflow_trigger),
        ]
        parts += [claim(value) for claim, value in claims if value is not None]
        return sigstore_policy.AllOf(parts)


class SigstoreVerifier:
    """Verifies Sigstore bundles against one instance's trusted root and one identity policy."""

    system = "sigstore"

    def __init__(
        self, instance: SigstoreInstance, policy: SigstoreIdentityPolicy | tuple[SigstoreIdentityPolicy, ...]
    ) -> None:
        """Trust `policy`, or any one of several (a policy file lists each signer a publisher may use).

        Load the trusted root now: an unusable one is refused before any bundle is read.
        """
        policies = policy if isinstance(policy, tuple) else (policy,)
        if not policies:
            raise TrustPolicyError("no trusted Sigstore identity was given")
        try:
            self._verifier = instance.verifier()
        except SigstoreError as err:
            raise TrustPolicyError(f"cannot load the Sigstore trusted root: {_one_line(err)}") from None
        self._policy: sigstore_policy.VerificationPolicy = (
            policies[0].sigstore_policy() if len(policies) == 1 else _AnyIdentity(policies)
        )

    def statement_signature(self, statement_path: Path) -> Path:
        return sigstore_bundle(statement_path, statement=True)

    def file_signature(self, path: Path) -> Path:
        return sigstore_bundle(path, statement=False)

    def verify_statement(self, statement: bytes, bundle_file: Path, role: Role) -> SigstoreSigner:
        """Verify a DSSE bundle whose payload must be exactly `statement`, a Statement of `role`.

        The role is the predicate type the Statement declares; the caller
        parses the Statement in full, so only that field is read here.
        """
        if role.predicate_type is None:
            raise SignatureError(f"{bundle_file}: packseal does not sign a {role.value} with Sigstore")
        bundle = _read_bundle(bundle_file)
        payload_type, payload = _verified(bundle_file, lambda: self._verifier.verify_dsse(bundle, self._policy))
        if payload_type != IN_TOTO_PAYLOAD_TYPE or payload != statement:
            raise SignatureError(f"{bundle_file}: manifest: the signed DSSE payload is not the Statement beside it")
        try:
            predicate_type = statement_predicate_type(payload, what=f"{bundle_file}: DSSE payload")
        except AttestError as err:
            raise SignatureError(str(err)) from None
        if predicate_type != role.predicate_type:
            raise SignatureError(
                f"{bundle_file}: role: the signed Statement's predicate type is {predicate_type!r}, "
                f"not a {role.value} ({role.predicate_type})"
            )
        return _signer_of(bundle)

    def verify_file(self, path: Path, bundle_file: Path) -> tuple[SigstoreSigner, FileDigest]:
        """Verify a file against a message-signature bundle, or a DSSE Statement naming its sha256."""
        bundle = _read_bundle(bundle_file)
        digest = file_digest(path)
        if bundle._dsse_envelope is None:
            _verified(
                bundle_file,
                lambda: self._verifier.verify_artifact(_hashed(digest), bundle, self._policy),
            )
        else:
            payload_type, payload = _verified(bundle_file, lambda: self._verifier.verify_dsse(bundle, self._policy))
            if payload_type != IN_TOTO_PAYLOAD_TYPE:
                raise SignatureError(f"{bundle_file}: subject digest: the DSSE payload is not an in-toto Statement")
            signed = _signed_statement(bundle_file, payload)
            if signed.predicate_type in {role.predicate_type for role in Role}:
                raise SignatureError(
                    f"{bundle_file}: role: a packseal {signed.predicate_type} Statement is never a file's signature"
                )
            if digest.sha256 not in {subject.sha256 for subject in signed.subjects}:
                raise SignatureError(
                    f"{bundle_file}: subject digest: no subject of the Statement is sha256:{digest.sha256}"
                )
        return _signer_of(bundle), digest


def _signed_statement(bundle_file: Path, payload: bytes) -> Statement:
    try:
        return foreign_statement(payload, what=f"{bundle_file}: DSSE payload")
    except AttestError as err:
        raise SignatureError(str(err)) from None


def _verified(bundle_file: Path, verification: Callable[[], T]) -> T:
    """Run a sigstore verification; report a failure as one line naming the failed check."""
    try:
        return verification()
    except _PolicyMismatch as err:
        raise SignatureError(f"{bundle_file}: {err.check}: {err}") from None
    except (SigstoreError, ValueError) as err:
        message = _one_line(err)
        raise SignatureError(f"{bundle_file}: {_failed_check(message)}: {message}") from None


class _PolicyMismatch(VerificationError):
    """Raised by packseal's own policies, so the verdict can name the failed check."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


class _CertificateField:
    """One certificate field, which must hold a value the policy accepts.

    Used for what sigstore-python's policies lack (anchored regexps) and for
    the exact identity, so that a refusal names its check: "identity" or
    "issuer".
    """

    def __init__(
        self, check: str, read: Callable[[x509.Certificate], set[str]], accepts: Callable[[str], object], wanted: str
    ) -> None:
        self._check = check
        self._read = read
        self._accepts = accepts
        self._wanted = wanted

    def verify(self, cert: x509.Certificate) -> None:
        values = self._read(cert)
        if not any(self._accepts(value) for value in values):
            found = ", ".join(sorted(values)) or "none"
            raise _PolicyMismatch(self._check, f"certificate {self._check} {found} is not {self._wanted}")


class _AnyIdentity:
    """Any one of several identity policies: sigstore-python's `AnyOf`, with a refusal that names the signer.

    `AnyOf` says only "0 of N policies succeeded"; this names the
    certificate's identity and issuer, which none of the trusted ones is.
    """

    def __init__(self, policies: tuple[SigstoreIdentityPolicy, ...]) -> None:
        self._policies = [policy.sigstore_policy() for policy in policies]

    def verify(self, cert: x509.Certificate) -> None:
        for policy in self._policies:
            try:
                policy.verify(cert)
            except VerificationError:
                continue
            return
        identities = ", ".join(sorted(_identities(cert))) or "none"
        raise _PolicyMismatch(
            "identity",
            f"certificate identity {identities}, issuer {_issuer_of(cert)}, is none of the "
            f"{len(self._policies)} trusted identities",
        )


def _identity_is(identity: str) -> _CertificateField:
    return _CertificateField("identity", _identities, identity.__eq__, identity)


def _identity_matches(pattern: str) -> _CertificateField:
    return _CertificateField("identity", _identities, _compile(pattern).fullmatch, f"a full match of {pattern}")


def _issuer_is(issuer: str) -> _CertificateField:
    return _CertificateField("issuer", _issuers, issuer.__eq__, issuer)


def _issuer_matches(pattern: str) -> _CertificateField:
    return _CertificateField("issuer", _issuers, _compile(pattern).fullmatch, f"a full match of {pattern}")


def _identities(cert: x509.Certificate) -> set[str]:
    """The certificate's SAN values, as sigstore-python's `Identity` policy reads them."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values: set[str] = set(san.get_values_for_type(x509.RFC822Name))
    values.update(san.get_values_for_type(x509.UniformResourceIdentifier))
    return values


def _issuers(cert: x509.Certificate) -> set[str]:
    return {_issuer_of(cert)}


def _issuer_of(cert: x509.Certificate) -> str:
    """The OIDC issuer the certificate names: from .1.8, else from the deprecated .1.1.

    .1.8 is a DER UTF8String (decoded as sigstore-python's `OIDCIssuerV2`
    decodes it), .1.1 raw UTF-8 (as its `OIDCIssuer` reads it, which knows
    only .1.1). A certificate naming no issuer is refused, rather than read
    as "" that a pattern such as `.*` would accept; so is a malformed one,
    or one whose two extensions name different issuers.
    """
    decoders: tuple[tuple[ObjectIdentifier, Callable[[bytes], str]], ...] = (
        (_OIDC_ISSUER_V2_OID, lambda raw: asn1.decode_der(str, raw)),
        (_OIDC_ISSUER_V1_OID, bytes.decode),
    )
    issuers: set[str] = set()
    for oid, decode in decoders:
        try:
            extension = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        try:
            if not isinstance(extension, x509.UnrecognizedExtension):
                raise ValueError(type(extension).__name__)
            issuers.add(decode(extension.value))
        except ValueError:
            malformed = f"the certificate's OIDC issuer ({oid.dotted_string}) is malformed"
            raise _PolicyMismatch("issuer", malformed) from None
    if len(issuers) > 1:
        raise _PolicyMismatch("issuer", f"the certificate names two OIDC issuers: {sorted(issuers)}")
    if issuers in (set(), {""}):
        raise _PolicyMismatch("issuer", "the certificate names no OIDC issuer (no 1.3.6.1.4.1.57264.1.8 or .1.1)")
    (issuer,) = issuers
    return issuer


def _signer_of(bundle: Bundle) -> SigstoreSigner:
    cert = bundle.signing_certificate
    return SigstoreSigner(identity=", ".join(sorted(_identities(cert))), issuer=_issuer_of(cert))


# sigstore reports every failure as a VerificationError; its message says
# which step failed. These prefixes map a message to the check it names.
_CHECK_OF_MESSAGE = (
    ("certificate chain", ("failed to build", "certificate chain", "cert is not valid", "Key usage", "Extended usage")),
    ("sct", ("SCT", "signed certificate timestamp")),
    ("issuer", ("OIDCIssuer", "issuer")),
    ("identity", ("SANs do not match",)),
    ("github claims", ("GitHub", "Workflow")),
    ("log inclusion", ("log entry", "inclusion", "checkpoint", "transparency log", "SET", "time")),
    ("signature", ("Signature is invalid", "signature", "DSSE", "digest mismatch")),
)


def _failed_check(message: str) -> str:
    for check, markers in _CHECK_OF_MESSAGE:
        if any(marker in message for marker in markers):
            return check
    return "bundle"


def _hashed(digest: FileDigest) -> Hashed:
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest.sha256))


def _read_bundle(path: Path) -> Bundle:
    return _load(path, "Sigstore bundle", Bundle.from_json, error=SignatureError)


def _load(path: PathLike, what: str, parse: Callable[[bytes], T], error: type[PacksealError] = TrustPolicyError) -> T:
    """Read and parse a small Sigstore JSON file, reporting any failure as one line."""
    try:
        data = read_regular_file(path, SIGSTORE_BUNDLE_MAX_BYTES, follow_symlinks=True)
    except BundleError as err:
        raise error(f"cannot read {what}: {err}") from None
    try:
        return parse(data)
    except (SigstoreError, ValueError, UnicodeDecodeError) as err:
        raise error(f"{path}: not a valid {what}: {_one_line(err)}") from None


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise TrustPolicyError(f"{pattern!r}: not a valid regular expression ({err})") from None
    except RecursionError:
        raise TrustPolicyError(f"{pattern[:40]!r}…: regular expression nested too deeply") from None


def _one_line(err: BaseException) -> str:
    """`err` in one line; a pydantic error inside it (a malformed bundle or root) as its fields and reasons.

    pydantic's own text spans lines and carries the input's repr and a URL
    to its documentation: none of it says more to a user than which field is
    wrong and why.
    """
    text = str(err)
    validation = next((e for e in (err, err.__cause__, err.__context__) if isinstance(e, ValidationError)), None)
    if validation is not None:
        fields = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'document'}: {problem['msg']}"
            for problem in validation.errors(include_url=False, include_input=False)
        )
        text = text.replace(str(validation), "").strip() + " " + fields
    return " ".join(text.split())


def _with_cause(err: BaseException) -> str:
    """`err` and its root cause, in one line: a `TUFError` says only "Failed to refresh TUF metadata"."""
    cause = err
    for _ in range(_MAX_CAUSES):
        if cause.__cause__ is None:
            break
        cause = cause.__cause__
    if cause is err:
        return _one_line(err)
    detail = _one_line(cause)
    return f"{_one_line(err)} ({type(cause).__name__}{': ' + detail if detail else ''})"


_MAX_CAUSES = 8
"""How far `_with_cause` follows a chain of causes (which could even be a cycle)."""
