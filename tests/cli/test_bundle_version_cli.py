"""`sign --bundle-version` and what `verify-bundle` shows of it; the stock minisign binary sees an edited version."""

import json

import pytest


def one_error_line(cli, result, code: int) -> str:
    assert result.returncode == code, cli.describe(result)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("packseal: error: ") and result.stderr.count("\n") == 1, cli.describe(result)
    return result.stderr


def test_a_signed_version_is_printed_and_in_the_json_verdict(pack, keys, cli):
    signed = cli.packseal("sign", pack, "--minisign-key", keys.key, "--bundle-version", "1.2.0-rc.1")
    assert signed.returncode == 0, cli.describe(signed)
    assert "  version 1.2.0-rc.1\n" in signed.stdout

    text = cli.verify(pack, keys.pub)
    result, verdict = cli.verify_json(pack, keys.pub)

    assert "  version 1.2.0-rc.1\n" in text.stdout, cli.describe(text)
    assert result.returncode == 0 and verdict["version"] == "1.2.0-rc.1"


def test_an_unversioned_bundle_has_a_null_version(signed_pack, keys, cli):
    text = cli.verify(signed_pack, keys.pub)
    _, verdict = cli.verify_json(signed_pack, keys.pub)

    assert verdict["version"] is None and "  version " not in text.stdout


def test_the_version_may_come_from_the_environment(pack, keys, cli):
    cli.sign_ok(pack, keys, env={"PACKSEAL_SIGN_BUNDLE_VERSION": "2.0.0"})

    assert cli.verify_json(pack, keys.pub)[1]["version"] == "2.0.0"


def test_stock_minisign_refuses_a_manifest_whose_version_was_edited(pack, keys, cli):
    """The version is inside the bytes minisign signs: the stock tool agrees the edit breaks the signature."""
    cli.sign_ok(pack, keys, "--bundle-version", "1.0.0")
    manifest = pack / cli.MANIFEST
    assert cli.minisign("-Vm", manifest, "-p", keys.pub).returncode == 0
    statement = json.loads(manifest.read_bytes())
    statement["predicate"]["version"] = "9.0.0"
    manifest.write_text(json.dumps(statement, sort_keys=True, separators=(",", ":")))

    assert cli.minisign("-Vm", manifest, "-p", keys.pub).returncode != 0
    result, verdict = cli.verify_json(pack, keys.pub)
    assert result.returncode == 1 and cli.assert_refused_at(verdict, "signature")
    assert verdict["version"] is None


@pytest.mark.parametrize(
    ("version", "message"),
    [("1.0 final", "printable ASCII characters without spaces"), ("x" * 129, "1 to 128 printable ASCII")],
)
def test_a_bad_version_is_one_error_line_and_nothing_is_written(pack, keys, cli, version, message):
    before = cli.snapshot(pack)

    result = cli.packseal("sign", pack, "--minisign-key", keys.key, "--bundle-version", version)

    assert message in one_error_line(cli, result, 2)
    assert cli.snapshot(pack) == before


def test_a_single_file_cannot_carry_a_version(single_file, keys, cli):
    before = cli.snapshot(single_file.parent)

    result = cli.packseal("sign", single_file, "--minisign-key", keys.key, "--bundle-version", "1.0")

    assert "a single file is signed as it is, with no manifest Statement" in one_error_line(cli, result, 2)
    assert cli.snapshot(single_file.parent) == before
