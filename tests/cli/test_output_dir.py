"""`sign --output-dir` signs a read-only bundle; `verify-bundle --signatures-dir` reads those signatures back."""

from __future__ import annotations

from pathlib import Path

import pytest


def sign_apart(cli, path: Path, keys, sigs: Path):
    """Sign as an unprivileged user, so a read-only bundle really cannot be written."""
    return cli.packseal("sign", path, "--minisign-key", keys.key, "--output-dir", sigs, unprivileged=True)


def test_a_read_only_directory_is_signed_apart_and_verified_from_there(tmp_path, cli, pack, keys, make_read_only):
    sigs = tmp_path / "out" / "sigs"
    make_read_only(pack)
    before = cli.snapshot(pack)

    signed = sign_apart(cli, pack, keys, sigs)

    assert signed.returncode == 0, cli.describe(signed)
    assert cli.snapshot(pack) == before
    assert sorted(p.name for p in sigs.iterdir()) == ["manifest.json", "manifest.json.minisig"]
    result, verdict = cli.verify_json(pack, keys.pub, extra=("--signatures-dir", sigs))
    assert verdict["verified"], cli.describe(result)
    assert cli.verify(pack, keys.pub, extra=("--signatures-dir", sigs)).returncode == 0


def test_a_read_only_file_is_signed_apart_and_the_stock_tool_verifies_it(
    tmp_path, cli, single_file, keys, make_read_only
):
    sigs = tmp_path / "sigs"
    make_read_only(single_file.parent)

    signed = sign_apart(cli, single_file, keys, sigs)

    assert signed.returncode == 0, cli.describe(signed)
    assert sorted(p.name for p in single_file.parent.iterdir()) == [single_file.name]
    assert sorted(p.name for p in sigs.iterdir()) == [single_file.name + ".minisig"]
    verified = cli.verify(single_file, keys.pub, extra=("--signatures-dir", sigs))
    assert verified.returncode == 0, cli.describe(verified)
    stock = cli.minisign("-V", "-p", keys.pub, "-m", single_file, "-x", sigs / (single_file.name + ".minisig"))
    assert stock.returncode == 0, cli.describe(stock)


def test_without_signatures_dir_the_bundle_signed_apart_is_unsigned(tmp_path, cli, pack, single_file, keys):
    for bundle in (pack, single_file):
        signed = sign_apart(cli, bundle, keys, tmp_path / "sigs")
        assert signed.returncode == 0, cli.describe(signed)

        result, verdict = cli.verify_json(bundle, keys.pub)

        assert not verdict["verified"], cli.describe(result)


def test_a_changed_directory_is_refused(tmp_path, cli, pack, keys):
    sigs = tmp_path / "sigs"
    assert sign_apart(cli, pack, keys, sigs).returncode == 0
    (pack / "README.txt").write_bytes(b"changed\n")

    result, verdict = cli.verify_json(pack, keys.pub, extra=("--signatures-dir", sigs))

    check = cli.assert_refused_at(verdict, "files")
    assert "README.txt" in check["detail"], cli.describe(result)


def test_a_changed_file_is_refused(tmp_path, cli, single_file, keys):
    sigs = tmp_path / "sigs"
    assert sign_apart(cli, single_file, keys, sigs).returncode == 0
    single_file.write_bytes(b"changed\n")

    _, verdict = cli.verify_json(single_file, keys.pub, extra=("--signatures-dir", sigs))

    cli.assert_refused_at(verdict, "signature", dir_bundle=False)


def test_an_unknown_file_in_the_signatures_dir_is_refused(tmp_path, cli, pack, keys):
    sigs = tmp_path / "sigs"
    assert sign_apart(cli, pack, keys, sigs).returncode == 0
    (sigs / "payload.sh").write_bytes(b"echo hidden\n")

    result, verdict = cli.verify_json(pack, keys.pub, extra=("--signatures-dir", sigs))

    check = cli.assert_refused_at(verdict, "layout")
    assert "payload.sh" in check["detail"], cli.describe(result)


def test_a_packseal_dir_planted_in_a_bundle_signed_apart_is_refused(tmp_path, cli, pack, keys):
    sigs = tmp_path / "sigs"
    assert sign_apart(cli, pack, keys, sigs).returncode == 0
    (pack / ".packseal").mkdir()
    (pack / ".packseal" / "manifest.json").write_bytes(b"{}")

    result, verdict = cli.verify_json(pack, keys.pub, extra=("--signatures-dir", sigs))

    check = cli.assert_refused_at(verdict, "layout")
    assert ".packseal" in check["detail"], cli.describe(result)


def test_signing_apart_a_bundle_that_holds_a_packseal_dir_is_refused_before_writing(tmp_path, cli, signed_pack, keys):
    sigs = tmp_path / "sigs"

    result = sign_apart(cli, signed_pack, keys, sigs)

    assert result.returncode != 0, cli.describe(result)
    assert ".packseal" in result.stderr and "Traceback" not in result.stderr, cli.describe(result)
    assert not sigs.exists()


@pytest.mark.parametrize("inside", ["sigs", ".packseal"])
def test_an_output_dir_inside_the_bundle_is_refused(cli, pack, keys, inside):
    result = sign_apart(cli, pack, keys, pack / inside)

    assert result.returncode != 0, cli.describe(result)
    assert "inside the bundle" in result.stderr and "Traceback" not in result.stderr, cli.describe(result)
    assert not (pack / inside).exists()


def test_an_unknown_file_in_the_output_dir_is_refused_before_signing(tmp_path, cli, pack, keys):
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    (sigs / "notes.txt").write_bytes(b"mine\n")

    result = sign_apart(cli, pack, keys, sigs)

    assert result.returncode != 0, cli.describe(result)
    assert "notes.txt" in result.stderr, cli.describe(result)
    assert sorted(p.name for p in sigs.iterdir()) == ["notes.txt"]


def test_signatures_dir_is_not_read_from_the_environment(tmp_path, cli, signed_pack, keys):
    result = cli.verify(signed_pack, keys.pub, env={"PACKSEAL_VERIFY_BUNDLE_SIGNATURES_DIR": str(tmp_path)})

    assert result.returncode != 0, cli.describe(result)
    assert "PACKSEAL_VERIFY_BUNDLE_SIGNATURES_DIR" in result.stderr, cli.describe(result)
