"""`packseal policy check` and `verify-bundle --policy`: the contract an installer scripts against."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import json_output
import pytest

from signing.backends.minisign import key_id, read_public_key

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/acme/packs/.github/workflows/release.yml@refs/tags/v*"


@pytest.fixture
def packseal(run_packseal):
    return run_packseal


def describe(result) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def sign_ok(packseal, pack: Path, keys) -> None:
    result = packseal("sign", pack, "--minisign-key", keys.key)
    assert result.returncode == 0, describe(result)


def write_policy(directory: Path, keys, *, bundles: str = '"pack"', extra: str = "") -> Path:
    """A policy beside the keys' directory, naming the public key by a path relative to itself."""
    path = directory / "trust.toml"
    relative = keys.pub.relative_to(directory)
    path.write_text(f'[[publisher]]\nname = "acme"\nbundles = [{bundles}]\nminisign_keys = ["{relative}"]\n{extra}')
    return path


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, describe(result)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("packseal: error: ") and result.stderr.count("\n") == 1, describe(result)
    return result.stderr


# --- policy check ------------------------------------------------------------------------


def test_policy_check_says_whom_it_trusts_for_what(packseal, tmp_path, keys):
    identifier = key_id(read_public_key(keys.pub))
    extra = (
        'revoked_keys = ["ABCDEF"]\n'
        f'sigstore = [{{ identity = "{IDENTITY}", issuer = "{ISSUER}", github_repository = "acme/packs" }}]\n'
        'source_repo = "https://github.com/acme/packs"\nbuilder_id = "https://github.com/actions/runner"\n'
        'versioning = "semver"\n'
    )
    policy = write_policy(tmp_path, keys, bundles='"acme-*", "tools"', extra=extra)

    result = packseal("policy", "check", policy)

    assert result.returncode == 0, describe(result)
    text = result.stdout
    assert f"{policy} (sha256:" in text and "is a valid trust policy" in text
    assert "publisher 'acme': trusted for bundles named 'acme-*' or 'tools'" in text
    assert "requires BOTH a minisign and a Sigstore signature" in text
    assert f"key {identifier} from {keys.pub}" in text
    assert "revoked key ids, refused even when listed: ABCDEF" in text
    assert f"identities matching {IDENTITY}, issued by {ISSUER}, run by repository acme/packs" in text
    assert (
        "provenance: required, signed by the same signers, from repository https://github.com/acme/packs, "
        "built by https://github.com/actions/runner"
    ) in text
    assert "versions: ordered as SemVer 2.0.0; install refuses a lower one (rollback)" in text


def test_policy_check_json(packseal, tmp_path, keys):
    policy = write_policy(tmp_path, keys, extra='revoked_keys = ["00000000000000AB"]\n')

    result = packseal("policy", "check", policy, "--json")

    assert result.returncode == 0, describe(result)
    document = json_output.parse(result.stdout)
    (publisher,) = document["publishers"]
    assert document["policy"] == str(policy)
    assert publisher["minisign_keys"] == [{"path": str(keys.pub), "key_id": key_id(read_public_key(keys.pub))}]
    assert publisher["revoked_keys"] == ["AB"]
    assert publisher["require_provenance"] is False and publisher["sigstore"] == []
    assert publisher["versioning"] == "pep440"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_policy_check_of_a_malformed_policy_names_file_and_line(packseal, tmp_path, keys, as_json):
    policy = write_policy(tmp_path, keys, extra="require_provenance = 1\n")

    result = packseal("policy", "check", policy, *(["--json"] if as_json else []))

    line = one_error_line(result, 2)
    assert f"{policy}:5: publisher 'acme': require_provenance must be true or false, not an integer" in line
    if as_json:
        assert json_output.parse(result.stdout)["exit_code"] == 2
    else:
        assert result.stdout == ""


# --- verify-bundle --policy --------------------------------------------------------------


def test_verify_bundle_with_a_policy_names_the_publisher(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)

    text = packseal("verify-bundle", pack, "--policy", policy)
    result = packseal("verify-bundle", pack, "--policy", policy, "--json")

    assert text.returncode == 0, describe(text)
    assert "  publisher  acme\n" in text.stdout
    assert "[ok] bundle-name: the signed manifest names the bundle 'pack'" in text.stdout
    verdict = json_output.parse(result.stdout)
    assert verdict["verified"] is True and verdict["publisher"] == "acme"
    assert verdict["checks"][0] == {
        "name": "publisher",
        "ok": True,
        "detail": f"publisher 'acme' of {policy} is trusted for bundles named 'pack'",
        "data": {"policy": str(policy), "publisher": "acme"},
    }


@pytest.mark.parametrize(
    "option",
    [
        ("--minisign-pubkey", "k.pub"),
        ("--certificate-identity", "a@example.com"),
        ("--github-repository", "acme/packs"),
    ],
)
def test_policy_excludes_the_signer_options(packseal, tmp_path, pack, keys, option):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)

    result = packseal("verify-bundle", pack, "--policy", policy, *option)

    line = one_error_line(result, 2)
    assert f"--policy excludes {option[0]}" in line


def test_a_bundle_no_publisher_matches_is_refused_exit_1(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys, bundles='"acme-*"')

    result = packseal("verify-bundle", pack, "--policy", policy, "--json")

    assert result.returncode == 1, describe(result)
    verdict = json_output.parse(result.stdout)
    assert [check["name"] for check in verdict["checks"]] == ["publisher"]
    assert verdict["publisher"] is None


def test_a_bundle_two_publishers_match_is_a_policy_error_exit_2(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)
    second = policy.read_text().replace('name = "acme"', 'name = "beta"').replace('"pack"', '"pa*"')
    policy.write_text(policy.read_text() + "\n" + second)

    result = packseal("verify-bundle", pack, "--policy", policy)

    assert "bundle 'pack' matches the bundles of publishers 'acme' and 'beta'" in one_error_line(result, 2)


def test_the_policy_is_never_read_from_the_environment(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)

    result = packseal("verify-bundle", pack, env={"PACKSEAL_VERIFY_BUNDLE_POLICY": str(policy)})

    assert "PACKSEAL_VERIFY_BUNDLE_POLICY is set, but verify-bundle --policy decides trust" in one_error_line(result, 2)


def test_lock_add_takes_the_policy_too(packseal, tmp_path, pack, keys):
    """`lock add --policy` refuses what the policy refuses: here, a bundle no publisher matches."""
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys, bundles='"acme-*"')

    result = packseal("lock", "add", pack, "--lock", tmp_path / "packs.lock", "--policy", policy)

    assert result.returncode == 1, describe(result)
    assert "[FAIL] publisher: " in result.stdout
    assert not (tmp_path / "packs.lock").exists()


# --- a refusal under a policy file is an audit event ---------------------------------------


def test_a_refused_verify_bundle_with_a_policy_appends_a_verify_refused_event(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)
    (pack / "README.md").write_bytes(b"changed after signing\n")
    home = tmp_path / "home"

    environment = {"PACKSEAL_HOME": str(home)}
    refused = packseal("verify-bundle", pack, "--policy", policy, env=environment)
    without_policy = packseal("verify-bundle", pack, "--minisign-pubkey", keys.pub, env=environment)

    assert refused.returncode == 1, describe(refused)
    assert without_policy.returncode == 1  # refused too, but without a policy file: not an audit event
    (line,) = (home / "audit.jsonl").read_text().splitlines()
    event = json.loads(line)
    assert event["action"] == "verify-refused" and event["verdict"] == "refused"
    assert event["bundle"] == "pack"
    assert event["policy_digest"] == f"sha256:{hashlib.sha256(policy.read_bytes()).hexdigest()}"
    assert event["signers"] == [{"system": "minisign", "key_id": key_id(read_public_key(keys.pub))}]
    assert event["detail"]["publisher"] == "acme"
    assert event["detail"]["check"] == "files"
    assert "README.md" in event["detail"]["reason"]


def test_a_verified_bundle_with_a_policy_appends_nothing(packseal, tmp_path, pack, keys):
    sign_ok(packseal, pack, keys)
    policy = write_policy(tmp_path, keys)
    home = tmp_path / "home"

    result = packseal("verify-bundle", pack, "--policy", policy, env={"PACKSEAL_HOME": str(home)})

    assert result.returncode == 0, describe(result)
    assert not (home / "audit.jsonl").exists()
