"""Every file in `.packseal/` is what its name says, whether or not the policy reads it (issue 9, section 4).

`.packseal/` is outside the manifest, and verification reads only what its
policy and pins need; a file under a signature name that no check reads
would otherwise ride along into the install unexamined. Each test puts a
hostile shape under such a name and expects the layout check to refuse it,
naming the file; the valid layouts still verify.
"""

import base64
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attest.provenance import LOCAL_BUILD_TYPE, BuildFacts
from signing.backends.minisign import MinisignSigning
from signing.pins import SourcePin
from signing.sign import attest_bundle
from signing.verify import SignaturePaths, Verdict, verify_bundle

FACTS = BuildFacts(
    source_repository="https://github.com/acme/pack",
    source_commit="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    source_ref="refs/heads/main",
    builder_id="https://ci.acme.example/builders/release",
    build_type=LOCAL_BUILD_TYPE,
)
PIN = SourcePin(repository=FACTS.source_repository, commit=FACTS.source_commit)


@pytest.fixture
def attested(signed_bundle, key_pair) -> Path:
    """The sample pack, signed and attested with minisign: all three minisign-era files present."""
    attest_bundle(signed_bundle, FACTS, MinisignSigning(key_pair.secret_key), started_on=datetime.now(UTC))
    return signed_bundle


def sigstore_shaped(statement: bytes) -> bytes:
    """A bundle with a Sigstore bundle's structure over `statement`; nothing in it would verify."""
    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": "AAAA"}],
            },
        }
    ).encode()


def _elf(root: Path) -> bytes:
    return Path("/bin/true").read_bytes()


def _garbage_json(root: Path) -> bytes:
    return b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "payload": [1, 2, 3]}'


def _not_json(root: Path) -> bytes:
    return b"\x00\x01 not json at all"


def _provenance_signature(root: Path) -> bytes:
    return (root / ".packseal/provenance.json.minisig").read_bytes()


def _manifest_signature(root: Path) -> bytes:
    return (root / ".packseal/manifest.json.minisig").read_bytes()


def _manifest_statement(root: Path) -> bytes:
    return (root / ".packseal/manifest.json").read_bytes()


def _sigstore_shaped_provenance(root: Path) -> bytes:
    return sigstore_shaped((root / ".packseal/provenance.json").read_bytes())


def _sigstore_shaped_manifest(root: Path) -> bytes:
    return sigstore_shaped(_manifest_statement(root))


def _sigstore_shaped_over_garbage(root: Path) -> bytes:
    return sigstore_shaped(b"MZ\x90\x00 an executable")


def _non_ascii_dsse_payload(root: Path) -> bytes:
    """Attack A1: base64 of non-ASCII text raises a bare ValueError, not `binascii.Error`."""
    shaped = json.loads(sigstore_shaped(_manifest_statement(root)))
    shaped["dsseEnvelope"]["payload"] = "\u00e9" + shaped["dsseEnvelope"]["payload"]
    return json.dumps(shaped).encode()


def _number_too_long_for_python(root: Path) -> bytes:
    """JSON whose number `int()` refuses (over 4300 digits) with a bare ValueError: verify crashed with a traceback."""
    return b'{"mediaType":' + b"1" * 5000 + b"}"


SHAPES = {
    "elf": _elf,
    "number-too-long-for-python": _number_too_long_for_python,
    "garbage-json": _garbage_json,
    "not-json": _not_json,
    "non-ascii-payload": _non_ascii_dsse_payload,
}
"""Shapes no signature file may have, whatever its name."""

WRONG_ROLE = {
    "manifest.sigstore.json": [_sigstore_shaped_provenance, _sigstore_shaped_over_garbage],
    "provenance.json": [_manifest_statement],
    "provenance.json.minisig": [_manifest_signature],
    "provenance.sigstore.json": [_sigstore_shaped_manifest],
}
"""For each name the minisign policy does not read without a pin: well-formed files of another role."""

CASES = [
    pytest.param(name, shape, id=f"{name}-{shape_id}") for name in WRONG_ROLE for shape_id, shape in SHAPES.items()
] + [
    pytest.param(name, shape, id=f"{name}-{shape.__name__.strip('_')}")
    for name, shapes in WRONG_ROLE.items()
    for shape in shapes
]


def _refused_at_layout(verdict: Verdict, name: str) -> str:
    refusal = verdict.refusal
    assert refusal is not None and refusal.name == "layout", verdict.checks
    assert f".packseal/{name}" in refusal.detail, refusal.detail
    return refusal.detail


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_a_file_no_check_reads_must_still_be_well_formed_for_its_role(attested, policy, name, shape):
    content = shape(attested)
    (attested / ".packseal" / name).write_bytes(content)

    _refused_at_layout(verify_bundle(attested, policy), name)


@pytest.mark.parametrize("name", list(WRONG_ROLE))
def test_a_100_mib_blob_under_a_signature_name_is_refused_without_reading_it(attested, policy, name):
    with (attested / ".packseal" / name).open("wb") as blob:
        blob.truncate(100 * 1024 * 1024)

    detail = _refused_at_layout(verify_bundle(attested, policy), name)

    assert "byte limit" in detail


def test_a_manifest_signature_not_read_because_another_was_given_must_still_be_well_formed(
    signed_bundle, policy, tmp_path
):
    given = Path(shutil.copyfile(signed_bundle / ".packseal/manifest.json.minisig", tmp_path / "apart.minisig"))
    (signed_bundle / ".packseal/manifest.json.minisig").write_bytes(_elf(signed_bundle))

    _refused_at_layout(
        verify_bundle(signed_bundle, policy, signatures=SignaturePaths(minisign=given)), "manifest.json.minisig"
    )


def test_a_signature_without_a_packseal_claim_is_refused_where_no_check_reads_it(attested, policy, key_pair):
    from signing.backends.minisign import sign

    provenance = (attested / ".packseal/provenance.json").read_bytes()
    (attested / ".packseal/provenance.json.minisig").write_bytes(sign(key_pair.secret_key, provenance, "release"))

    detail = _refused_at_layout(verify_bundle(attested, policy), "provenance.json.minisig")

    assert "claims no packseal role" in detail


# --- what stays valid --------------------------------------------------------


def test_an_attested_bundle_verifies_without_a_pin(attested, policy):
    verdict = verify_bundle(attested, policy)

    assert verdict.verified, verdict.checks
    assert verdict.checks[0].detail == ".packseal/ holds only signature files, each well formed for its role"


def test_an_attested_bundle_verifies_with_a_pin(attested, policy):
    assert verify_bundle(attested, policy, pin=PIN).verified


def test_a_sigstore_bundle_beside_a_minisign_one_is_checked_without_importing_sigstore(attested, key_pair, tmp_path):
    """verify-bundle with minisign stays fast: the Sigstore files it does not verify are read as JSON only."""
    for statement in ("manifest", "provenance"):
        data = (attested / ".packseal" / f"{statement}.json").read_bytes()
        (attested / ".packseal" / f"{statement}.sigstore.json").write_bytes(sigstore_shaped(data))
    public_key = tmp_path / "release.pub"
    public_key.write_bytes(bytes(key_pair.public_key) + b"\n")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from signing.backends.minisign import MinisignKeyring\n"
        "from signing.policy import TrustPolicy\n"
        "from signing.verify import verify_bundle\n"
        "policy = TrustPolicy((MinisignKeyring.from_files([Path(sys.argv[2])]),))\n"
        "verdict = verify_bundle(Path(sys.argv[1]), policy)\n"
        "assert verdict.verified, verdict.checks\n"
        "assert 'sigstore' not in sys.modules, 'sigstore was imported'\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code, attested, public_key], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
