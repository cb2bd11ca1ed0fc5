"""packseal's signing API: sign bundles, attest provenance, verify before install, check self.

The names imported below are the public API; every other name is private.
They load on first use (PEP 562, `attest.exports`), so `from
signing.selfcheck import check_self` at a daemon's startup does not import
the rest of packseal, and nothing here imports `sigstore` until a Sigstore
name is used. Paths are taken as `str` or `os.PathLike`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signing.archive import ArchiveLimits as ArchiveLimits
    from signing.audit import AuditEvent as AuditEvent
    from signing.audit import AuditLog as AuditLog
    from signing.backends import BundleSigning as BundleSigning
    from signing.backends import BundleVerifier as BundleVerifier
    from signing.backends import Signer as Signer
    from signing.backends.minisign import KeyPairFiles as KeyPairFiles
    from signing.backends.minisign import MinisignKeyring as MinisignKeyring
    from signing.backends.minisign import MinisignSigner as MinisignSigner
    from signing.backends.minisign import MinisignSigning as MinisignSigning
    from signing.backends.minisign import generate_key_pair as generate_key_pair
    from signing.backends.minisign import read_public_key as read_public_key
    from signing.backends.minisign import read_secret_key as read_secret_key
    from signing.backends.minisign import unlock as unlock
    from signing.backends.sigstore import SigstoreIdentityPolicy as SigstoreIdentityPolicy
    from signing.backends.sigstore import SigstoreInstance as SigstoreInstance
    from signing.backends.sigstore import SigstoreSigner as SigstoreSigner
    from signing.backends.sigstore import SigstoreSigning as SigstoreSigning
    from signing.backends.sigstore import SigstoreVerifier as SigstoreVerifier
    from signing.backends.sigstore import identity_token as identity_token
    from signing.bundle import directory_manifest as directory_manifest
    from signing.digest import FileDigest as FileDigest
    from signing.digest import file_digest as file_digest
    from signing.errors import ArchiveError as ArchiveError
    from signing.errors import AuditError as AuditError
    from signing.errors import BundleError as BundleError
    from signing.errors import IdentityError as IdentityError
    from signing.errors import InstallRefused as InstallRefused
    from signing.errors import KeyFileError as KeyFileError
    from signing.errors import NotABundleError as NotABundleError
    from signing.errors import OutputError as OutputError
    from signing.errors import PacksealError as PacksealError
    from signing.errors import PinMismatchError as PinMismatchError
    from signing.errors import SelfCheckError as SelfCheckError
    from signing.errors import SignatureError as SignatureError
    from signing.errors import SigningError as SigningError
    from signing.errors import SourceError as SourceError
    from signing.errors import SourceSpecError as SourceSpecError
    from signing.errors import TrustPolicyError as TrustPolicyError
    from signing.installer import Installed as Installed
    from signing.installer import install as install
    from signing.installer import read_installed as read_installed
    from signing.pins import LockFile as LockFile
    from signing.pins import SourcePin as SourcePin
    from signing.policy import AllOf as AllOf
    from signing.policy import CheckName as CheckName
    from signing.policy import SourceCheck as SourceCheck
    from signing.policy import TrustPolicy as TrustPolicy
    from signing.progress import Progress as Progress
    from signing.progress import progress_for_terminal as progress_for_terminal
    from signing.records import InstallRecord as InstallRecord
    from signing.records import Origin as Origin
    from signing.selfcheck import SelfCheckResult as SelfCheckResult
    from signing.selfcheck import check_self as check_self
    from signing.selfcheck import record_self as record_self
    from signing.sign import SignedBundle as SignedBundle
    from signing.sign import attest_bundle as attest_bundle
    from signing.sign import bundle_build_facts as bundle_build_facts
    from signing.sign import sign_bundle as sign_bundle
    from signing.sign import sign_with_minisign as sign_with_minisign
    from signing.sign import sign_with_sigstore as sign_with_sigstore
    from signing.source_checks import BuilderIs as BuilderIs
    from signing.source_checks import CheckoutAt as CheckoutAt
    from signing.source_checks import CommitIs as CommitIs
    from signing.source_checks import DigestIs as DigestIs
    from signing.source_checks import RefIs as RefIs
    from signing.source_checks import RepositoryIs as RepositoryIs
    from signing.sources.fetch import RemoteOptions as RemoteOptions
    from signing.sources.spec import GitSource as GitSource
    from signing.sources.spec import ReleaseSource as ReleaseSource
    from signing.sources.spec import parse_source as parse_source
    from signing.trustfile import Publisher as Publisher
    from signing.trustfile import SigstoreIdentity as SigstoreIdentity
    from signing.trustfile import TrustedKey as TrustedKey
    from signing.trustfile import TrustFile as TrustFile
    from signing.verify import Check as Check
    from signing.verify import SignaturePaths as SignaturePaths
    from signing.verify import Verdict as Verdict
    from signing.verify import lock_pin as lock_pin
    from signing.verify import verify_bundle as verify_bundle
    from signing.verify import verify_locked_bundle as verify_locked_bundle
else:
    from attest.exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(globals())
    del lazy_exports
