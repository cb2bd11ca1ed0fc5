"""The real sigstore client (API and CLI) signs and verifies against the local instance.

Nothing in sigstore is patched: the client is configured only by the
ClientTrustConfig file the instance writes, so these tests also guard the
instance against drifting from what sigstore-python accepts.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.fulcio.client import FulcioClientError
from sigstore.dsse import Statement
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier
from sigstore.verify.policy import (
    AllOf,
    GitHubWorkflowRef,
    GitHubWorkflowRepository,
    GitHubWorkflowSHA,
    GitHubWorkflowTrigger,
    Identity,
    OIDCBuildSignerURI,
    OIDCBuildTrigger,
    OIDCIssuerV2,
    OIDCSourceRepositoryDigest,
    OIDCSourceRepositoryRef,
    OIDCSourceRepositoryURI,
    VerificationPolicy,
)
from sigstore_local import SigstoreInstance, running_instance

pytestmark = pytest.mark.sigstore_local

ALICE = "alice@example.com"
ARTIFACT = b"packseal artifact\n"
REPOSITORY = "packseal/packseal"
REF = "refs/tags/v1.0.0"
SHA = "0123456789abcdef0123456789abcdef01234567"
WORKFLOW_IDENTITY = f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@{REF}"
SIGSTORE_CLI = Path(sys.executable).parent / "sigstore"


def _trust_config(instance: SigstoreInstance) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(instance.trust_config.read_text())


def _verifier(instance: SigstoreInstance) -> Verifier:
    return Verifier(trusted_root=_trust_config(instance).trusted_root)


def _sign(instance: SigstoreInstance, token: str, artifact: bytes = ARTIFACT) -> Bundle:
    context = SigningContext.from_trust_config(_trust_config(instance))
    with context.signer(IdentityToken(token)) as signer:
        return signer.sign_artifact(artifact)


def _alice(instance: SigstoreInstance) -> Identity:
    return Identity(identity=ALICE, issuer=instance.email_issuer)


def _cli(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the stock CLI; a wide terminal keeps rich from wrapping its error lines."""
    environment = os.environ | {"COLUMNS": "1000"}
    return subprocess.run(
        [SIGSTORE_CLI, *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def _post(url: str, document: dict[str, Any], token: str | None = None) -> int:
    """POST `document` as JSON and return the HTTP status."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(url, json.dumps(document).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _tlog_entry(bundle: Bundle) -> dict[str, Any]:
    """The bundle's Rekor entry in its JSON form (``verificationMaterial.tlogEntries[0]``)."""
    return dict(json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"][0])


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


@pytest.fixture(scope="module")
def alice_bundle(sigstore_instance: SigstoreInstance) -> Bundle:
    return _sign(sigstore_instance, sigstore_instance.mint_token(ALICE))


@pytest.fixture(scope="module")
def github_bundle(sigstore_instance: SigstoreInstance) -> Bundle:
    token = sigstore_instance.mint_github_token(repository=REPOSITORY, ref=REF, sha=SHA)
    return _sign(sigstore_instance, token)


def test_artifact_round_trip(sigstore_instance: SigstoreInstance, alice_bundle: Bundle) -> None:
    _verifier(sigstore_instance).verify_artifact(ARTIFACT, alice_bundle, _alice(sigstore_instance))

    san = alice_bundle.signing_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.RFC822Name) == [ALICE]


def test_dsse_round_trip(sigstore_instance: SigstoreInstance) -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "artifact.bin", "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://packseal.test/build"}},
    }
    context = SigningContext.from_trust_config(_trust_config(sigstore_instance))
    with context.signer(IdentityToken(sigstore_instance.mint_token(ALICE))) as signer:
        bundle = signer.sign_dsse(Statement(json.dumps(statement).encode()))

    payload_type, payload = _verifier(sigstore_instance).verify_dsse(bundle, _alice(sigstore_instance))

    assert payload_type == "application/vnd.in-toto+json"
    assert json.loads(payload) == statement


def test_rekor_serves_the_entry_it_logged(sigstore_instance: SigstoreInstance, alice_bundle: Bundle) -> None:
    entry = _tlog_entry(alice_bundle)
    log_index = int(entry["logIndex"])

    ((uuid, by_index),) = _get(f"{sigstore_instance.url}/api/v1/log/entries?logIndex={log_index}").items()
    by_uuid = _get(f"{sigstore_instance.url}/api/v1/log/entries/{uuid}")[uuid]
    log = _get(f"{sigstore_instance.url}/api/v1/log")

    assert by_index["body"] == by_uuid["body"] == entry["canonicalizedBody"]
    assert by_index["verification"]["inclusionProof"]["rootHash"] == log["rootHash"]
    assert log["treeSize"] > log_index
    assert log["signedTreeHead"].startswith(f"rekor.sigstore.local - 1\n{log['treeSize']}\n")


def test_github_identity_and_workflow_claims_verify(sigstore_instance: SigstoreInstance, github_bundle: Bundle) -> None:
    policy = AllOf(
        [
            Identity(identity=WORKFLOW_IDENTITY, issuer=sigstore_instance.github_issuer),
            GitHubWorkflowRepository(REPOSITORY),
            GitHubWorkflowRef(REF),
            GitHubWorkflowSHA(SHA),
            GitHubWorkflowTrigger("push"),
            OIDCIssuerV2(sigstore_instance.github_issuer),
            OIDCBuildSignerURI(WORKFLOW_IDENTITY),
            OIDCSourceRepositoryURI(f"https://github.com/{REPOSITORY}"),
            OIDCSourceRepositoryDigest(SHA),
            OIDCSourceRepositoryRef(REF),
            OIDCBuildTrigger("push"),
        ]
    )
    _verifier(sigstore_instance).verify_artifact(ARTIFACT, github_bundle, policy)


@pytest.mark.parametrize(
    "wrong_claim",
    [
        GitHubWorkflowRepository("packseal/fork"),
        GitHubWorkflowRef("refs/heads/main"),
        GitHubWorkflowSHA("f" * 40),
        GitHubWorkflowTrigger("pull_request"),
    ],
    ids=["repository", "ref", "sha", "trigger"],
)
def test_github_wrong_claim_refused(
    sigstore_instance: SigstoreInstance, github_bundle: Bundle, wrong_claim: VerificationPolicy
) -> None:
    identity = Identity(identity=WORKFLOW_IDENTITY, issuer=sigstore_instance.github_issuer)
    with pytest.raises(VerificationError, match="does not match"):
        _verifier(sigstore_instance).verify_artifact(ARTIFACT, github_bundle, AllOf([identity, wrong_claim]))


def test_cli_signs_and_verifies(sigstore_instance: SigstoreInstance, tmp_path: Path) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(ARTIFACT)
    trust = ("--trust-config", sigstore_instance.trust_config)
    signed = _cli(*trust, "sign", "--identity-token", sigstore_instance.mint_token(ALICE), artifact)
    assert signed.returncode == 0, signed.stderr

    def verify(identity: str) -> subprocess.CompletedProcess[str]:
        return _cli(
            *trust, "verify", "identity", "--bundle", f"{artifact}.sigstore.json",
            "--cert-identity", identity,
            "--cert-oidc-issuer", sigstore_instance.email_issuer, artifact,
        )  # fmt: skip

    accepted, refused = verify(ALICE), verify("bob@example.com")
    assert accepted.returncode == 0, accepted.stderr
    assert refused.returncode != 0
    assert "SANs do not match bob@example.com" in refused.stderr


@dataclass(frozen=True)
class _SignedOffline:
    """An artifact and bundle signed by an instance that has since been stopped."""

    artifact: Path
    bundle: Path
    instance: SigstoreInstance


@pytest.fixture(scope="module")
def signed_offline(tmp_path_factory: pytest.TempPathFactory) -> _SignedOffline:
    directory = tmp_path_factory.mktemp("offline")
    artifact, bundle = directory / "artifact.bin", directory / "artifact.bin.sigstore.json"
    artifact.write_bytes(ARTIFACT)
    with running_instance(directory / "instance") as instance:
        bundle.write_text(_sign(instance, instance.mint_token(ALICE)).to_json())
    with pytest.raises(urllib.error.URLError):
        _get(f"{instance.url}/api/v1/log")
    return _SignedOffline(artifact, bundle, instance)


def test_api_verifies_with_server_stopped(signed_offline: _SignedOffline) -> None:
    bundle = Bundle.from_json(signed_offline.bundle.read_text())
    verifier = _verifier(signed_offline.instance)
    verifier.verify_artifact(ARTIFACT, bundle, _alice(signed_offline.instance))


def test_cli_verifies_offline_with_server_stopped(signed_offline: _SignedOffline) -> None:
    verified = _cli(
        "--trust-config", signed_offline.instance.trust_config, "verify", "identity", "--offline",
        "--bundle", signed_offline.bundle, "--cert-identity", ALICE,
        "--cert-oidc-issuer", signed_offline.instance.email_issuer, signed_offline.artifact,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr


@pytest.mark.parametrize(
    ("identity", "issuer", "message"),
    [
        ("bob@example.com", SigstoreInstance.email_issuer, "SANs do not match"),
        (ALICE, SigstoreInstance.github_issuer, "OIDCIssuer does not match"),
    ],
    ids=["wrong-identity", "wrong-issuer"],
)
def test_wrong_identity_or_issuer_refused(
    sigstore_instance: SigstoreInstance,
    alice_bundle: Bundle,
    identity: str,
    issuer: str,
    message: str,
) -> None:
    with pytest.raises(VerificationError, match=message):
        _verifier(sigstore_instance).verify_artifact(ARTIFACT, alice_bundle, Identity(identity=identity, issuer=issuer))


def test_changed_artifact_refused(sigstore_instance: SigstoreInstance, alice_bundle: Bundle) -> None:
    with pytest.raises(VerificationError):
        _verifier(sigstore_instance).verify_artifact(ARTIFACT + b"x", alice_bundle, _alice(sigstore_instance))


def test_bundle_from_other_instance_refused(
    sigstore_instance: SigstoreInstance,
    other_sigstore_instance: SigstoreInstance,
    alice_bundle: Bundle,
) -> None:
    with pytest.raises(VerificationError, match="failed to build timestamp certificate chain"):
        _verifier(other_sigstore_instance).verify_artifact(ARTIFACT, alice_bundle, _alice(sigstore_instance))


def test_fulcio_refuses_token_from_foreign_issuer_key(
    sigstore_instance: SigstoreInstance,
    other_sigstore_instance: SigstoreInstance,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(FulcioClientError):
        _sign(sigstore_instance, other_sigstore_instance.mint_token(ALICE))
    assert "identity token refused: Signature verification failed" in capsys.readouterr().err


def _csr_document(tamper: bool = False) -> dict[str, str]:
    """A Fulcio request for a fresh key; `tamper` breaks the CSR's proof of possession."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    if tamper:
        der[-1] ^= 0x01
    pem = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    return {"certificateSigningRequest": base64.b64encode(pem).decode()}


def test_fulcio_http_refusals(sigstore_instance: SigstoreInstance, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{sigstore_instance.url}/api/v2/signingCert"
    valid = sigstore_instance.mint_token(ALICE)
    expired = sigstore_instance.mint_token(ALICE, valid_for=timedelta(minutes=-1))

    assert _post(url, _csr_document(), valid) == 201
    assert _post(url, _csr_document(), None) == 401
    assert _post(url, _csr_document(), expired) == 401
    assert _post(url, _csr_document(tamper=True), valid) == 400
    log = capsys.readouterr().err
    assert "Signature has expired" in log
    assert "no proof of possession" in log


def test_rekor_refuses_entry_whose_signature_does_not_match(
    sigstore_instance: SigstoreInstance, alice_bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = json.loads(base64.b64decode(_tlog_entry(alice_bundle)["canonicalizedBody"]))
    entry["spec"]["data"]["hash"]["value"] = "00" * 32

    assert _post(f"{sigstore_instance.url}/api/v1/log/entries", entry) == 400
    assert "entry signature does not verify with its certificate" in capsys.readouterr().err
