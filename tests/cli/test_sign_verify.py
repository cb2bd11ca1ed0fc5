"""Round trips through `packseal keygen`, `sign` and `verify-bundle`, and every refusal."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


# --- keygen --------------------------------------------------------------


def test_keygen_writes_a_private_key_and_a_public_key_with_the_default_name(tmp_path, cli):
    result = cli.packseal("keygen", "--output-dir", tmp_path, "--no-password")

    assert result.returncode == 0, cli.describe(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packseal.key", "packseal.pub"]
    assert stat.S_IMODE((tmp_path / "packseal.key").stat().st_mode) == 0o600
    assert (tmp_path / "packseal.pub").read_text().startswith("untrusted comment: ")


def test_keygen_name_option_names_both_files(tmp_path, cli):
    result = cli.packseal("keygen", "--output-dir", tmp_path, "--name", "release-2025", "--no-password")

    assert result.returncode == 0, cli.describe(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release-2025.key", "release-2025.pub"]


def test_keygen_password_file_uses_its_first_line_and_sign_reads_the_environment(tmp_path, cli):
    password_file = tmp_path / "password.txt"
    password_file.write_text(f"{cli.PASSWORD}\nthis second line is not part of it\n")
    made = cli.packseal("keygen", "--output-dir", tmp_path / "k", "--password-file", password_file)
    assert made.returncode == 0, cli.describe(made)
    keys = cli.KeyPair(tmp_path / "k" / "packseal.key", tmp_path / "k" / "packseal.pub")
    target = tmp_path / "payload.bin"
    target.write_bytes(b"payload\n")

    cli.sign_ok(target, keys, env={"PACKSEAL_PASSWORD": cli.PASSWORD})

    assert cli.verify(target, keys.pub).returncode == 0


def test_sign_reads_the_password_file(tmp_path, cli, key_store):
    keys = key_store("locked", password=cli.PASSWORD)  # made from PACKSEAL_PASSWORD
    password_file = tmp_path / "password.txt"
    password_file.write_text(cli.PASSWORD + "\n")
    target = tmp_path / "payload.bin"
    target.write_bytes(b"payload\n")

    cli.sign_ok(target, keys, "--password-file", password_file)

    assert cli.verify(target, keys.pub).returncode == 0


# --- round trips ---------------------------------------------------------


def test_directory_round_trip_writes_only_the_manifest_and_its_signature(pack, keys, cli):
    before = cli.snapshot(pack)

    cli.sign_ok(pack, keys)

    after = cli.snapshot(pack)
    added = sorted(set(after) - set(before))
    assert added == [".packseal", ".packseal/manifest.json", ".packseal/manifest.json.minisig"]
    assert {k: v for k, v in after.items() if k in before and k != "."} == {k: v for k, v in before.items() if k != "."}
    result = cli.verify(pack, keys.pub)
    assert result.returncode == 0, cli.describe(result)
    assert result.stdout.splitlines()[0].startswith("VERIFIED"), cli.describe(result)


def test_directory_verdict_json_reports_every_check_in_order(signed_pack, keys, cli):
    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 0, cli.describe(result)
    assert set(verdict) == {"schema", "verified", "bundle", "digest", "signers", "publisher", "version", "checks"}
    assert verdict["verified"] is True
    assert verdict["bundle"].rstrip("/").endswith("pack")
    assert DIGEST.fullmatch(verdict["digest"]), verdict
    assert [signer["system"] for signer in verdict["signers"]] == ["minisign"], verdict
    assert [c["name"] for c in verdict["checks"]] == cli.DIR_CHECKS
    assert all(c["ok"] is True and isinstance(c["detail"], str) for c in verdict["checks"])


def test_directory_digest_is_the_tree_digest_and_is_in_the_default_trusted_comment(signed_pack, keys, cli):
    _, verdict = cli.verify_json(signed_pack, keys.pub)

    expected = "sha256:" + cli.tree_digest_of(signed_pack)
    assert verdict["digest"] == expected
    comment = cli.trusted_comment(signed_pack / cli.MANIFEST_SIG)
    assert expected in comment and "pack" in comment, comment


def test_manifest_records_files_executable_bits_and_links_but_not_packseal_dir(signed_pack, cli):
    import json

    statement = json.loads((signed_pack / cli.MANIFEST).read_bytes())
    entries = {e["path"]: e for e in cli.find_file_list(statement["predicate"])}

    assert set(entries) == set(cli.PACK_FILES) | set(cli.PACK_LINKS)
    assert entries["bin/run.sh"]["executable"] is True
    assert entries["README.md"]["executable"] is False
    assert "guide.md" in entries["docs/latest.md"].values()


def test_single_file_round_trip_writes_a_minisig_beside_it(single_file, keys, cli):
    before = cli.snapshot(single_file.parent)

    cli.sign_ok(single_file, keys)

    after = cli.snapshot(single_file.parent)
    assert sorted(set(after) - set(before)) == [single_file.name + ".minisig"]
    result, verdict = cli.verify_json(single_file, keys.pub)
    assert result.returncode == 0, cli.describe(result)
    assert [c["name"] for c in verdict["checks"]] == ["signature"]
    assert DIGEST.fullmatch(verdict["digest"]), verdict
    assert verdict["digest"] in cli.trusted_comment(single_file.with_name(single_file.name + ".minisig"))
    assert single_file.name in cli.trusted_comment(single_file.with_name(single_file.name + ".minisig"))
    human = cli.verify(single_file, keys.pub)
    assert human.returncode == 0 and human.stdout.startswith("VERIFIED"), cli.describe(human)


def test_custom_trusted_comment_is_signed_and_verifies(single_file, keys, cli):
    cli.sign_ok(single_file, keys, "--trusted-comment", "release 1.0 by the pack team")

    assert "release 1.0 by the pack team" in cli.trusted_comment(single_file.with_name(single_file.name + ".minisig"))
    assert cli.verify(single_file, keys.pub).returncode == 0


def test_signature_option_reads_a_signature_kept_elsewhere(signed_file, keys, tmp_path, cli):
    moved = tmp_path / "elsewhere.minisig"
    signed_file.with_name(signed_file.name + ".minisig").rename(moved)

    without = cli.verify(signed_file, keys.pub)
    with_option = cli.verify(signed_file, keys.pub, extra=("--signature", moved))

    assert without.returncode == 1, cli.describe(without)
    assert with_option.returncode == 0, cli.describe(with_option)


def test_signature_option_with_another_files_signature_is_refused(signed_file, keys, tmp_path, cli):
    other = tmp_path / "other.txt"
    other.write_bytes(b"something else\n")
    cli.sign_ok(other, keys)

    result, verdict = cli.verify_json(signed_file, keys.pub, extra=("--signature", f"{other}.minisig"))

    assert result.returncode == 1
    cli.assert_refused_at(verdict, "signature", dir_bundle=False)


# --- refusals by the files check ------------------------------------------


def _change_content(pack: Path) -> None:
    (pack / "data/nested/deep/blob.bin").write_bytes(b"\x00" + bytes(range(1, 256)) * 4)


def _remove(pack: Path) -> None:
    (pack / "docs/guide.md").unlink()


def _add(pack: Path) -> None:
    (pack / "docs/new.md").write_text("smuggled\n")


def _file_to_link(pack: Path) -> None:
    (pack / "README.md").unlink()
    (pack / "README.md").symlink_to("docs/guide.md")


def _link_to_file(pack: Path) -> None:
    (pack / "docs/latest.md").unlink()
    (pack / "docs/latest.md").write_bytes((pack / "docs/guide.md").read_bytes())


def _clear_exec_bit(pack: Path) -> None:
    (pack / "bin/run.sh").chmod(0o644)


def _set_exec_bit(pack: Path) -> None:
    (pack / "README.md").chmod(0o755)


def _retarget_link(pack: Path) -> None:
    (pack / "docs/latest.md").unlink()
    (pack / "docs/latest.md").symlink_to("../README.md")


def _change_non_ascii(pack: Path) -> None:
    with open(pack / "données" / "café.txt", "ab") as f:
        f.write(b"!")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_change_content, {("changed", "data/nested/deep/blob.bin")}),
        (_remove, {("missing", "docs/guide.md")}),
        (_add, {("extra", "docs/new.md")}),
        (_file_to_link, {("type changed", "README.md")}),
        (_link_to_file, {("type changed", "docs/latest.md")}),
        (_clear_exec_bit, {("executable bit changed", "bin/run.sh")}),
        (_set_exec_bit, {("executable bit changed", "README.md")}),
        (_retarget_link, {("link target changed", "docs/latest.md")}),
        (_change_non_ascii, {("changed", "données/café.txt")}),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] or None,
)
def test_files_check_refuses_and_names_the_path(signed_pack, keys, cli, tamper, expected):
    tamper(signed_pack)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "files")
    assert cli.file_problems(failed["detail"]) == expected, failed["detail"]
    human = cli.verify(signed_pack, keys.pub)
    assert human.returncode == 1 and human.stdout.startswith("REFUSED"), cli.describe(human)
    for _, path in expected:
        assert path in human.stdout, cli.describe(human)


def test_files_check_names_every_offending_path(signed_pack, keys, cli):
    _change_content(signed_pack)
    _remove(signed_pack)
    _add(signed_pack)
    _clear_exec_bit(signed_pack)
    _retarget_link(signed_pack)

    _, verdict = cli.verify_json(signed_pack, keys.pub)

    failed = cli.assert_refused_at(verdict, "files")
    assert cli.file_problems(failed["detail"]) == {
        ("changed", "data/nested/deep/blob.bin"),
        ("missing", "docs/guide.md"),
        ("extra", "docs/new.md"),
        ("executable bit changed", "bin/run.sh"),
        ("link target changed", "docs/latest.md"),
    }, failed["detail"]


def test_extra_file_in_a_new_directory_is_refused(signed_pack, keys, cli):
    (signed_pack / "plugins" / "evil").mkdir(parents=True)
    (signed_pack / "plugins" / "evil" / "hook.py").write_text("import os\n")

    _, verdict = cli.verify_json(signed_pack, keys.pub)

    failed = cli.assert_refused_at(verdict, "files")
    assert cli.file_problems(failed["detail"]) == {("extra", "plugins/evil/hook.py")}


# --- refusals by the layout check -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("file", "install-hook.sh"),
        ("dir", "cache"),
        ("link", "notes"),
        ("link", "provenance.json"),
        ("dir", "provenance.json.minisig"),
    ],
)
def test_layout_check_refuses_anything_unknown_in_packseal_dir(signed_pack, keys, cli, kind, name):
    stray = signed_pack / ".packseal" / name
    if kind == "file":
        stray.write_text("#!/bin/sh\n")
    elif kind == "dir":
        stray.mkdir()
    else:
        stray.symlink_to("../README.md")

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "layout")
    assert name in failed["detail"], failed


def test_bundle_without_signature_is_refused(pack, keys, cli):
    result, verdict = cli.verify_json(pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert verdict["checks"] and verdict["checks"][-1]["ok"] is False, verdict
    assert all(c["ok"] for c in verdict["checks"][:-1]), verdict


def test_packseal_dir_as_a_symlink_is_refused(signed_pack, keys, tmp_path, cli):
    moved = tmp_path / "signatures-elsewhere"
    (signed_pack / ".packseal").rename(moved)
    (signed_pack / ".packseal").symlink_to(moved)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "layout")


# --- refusals by the signature check --------------------------------------


def test_signature_by_an_untrusted_key_is_refused_naming_its_key_id(pack, keys, other_keys, cli):
    cli.sign_ok(pack, other_keys)

    result, verdict = cli.verify_json(pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "signature")
    assert cli.names_key_id(failed["detail"], other_keys.pub), (failed, cli.key_id_forms(other_keys.pub))


def _edit_trusted_comment(signature: Path) -> None:
    lines = signature.read_text().split("\n")
    lines[2] = lines[2] + " (re-released)"
    signature.write_text("\n".join(lines))


def test_edited_trusted_comment_is_refused_for_a_directory(signed_pack, keys, cli):
    _edit_trusted_comment(signed_pack / cli.MANIFEST_SIG)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "signature")


def test_edited_trusted_comment_is_refused_for_a_file(signed_file, keys, cli):
    _edit_trusted_comment(signed_file.with_name(signed_file.name + ".minisig"))

    result, verdict = cli.verify_json(signed_file, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "signature", dir_bundle=False)


def test_changed_single_file_is_refused(signed_file, keys, cli):
    signed_file.write_bytes(signed_file.read_bytes() + b"\n")

    result, verdict = cli.verify_json(signed_file, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "signature", dir_bundle=False)


def test_manifest_signed_by_trusted_key_but_edited_afterwards_is_refused(signed_pack, keys, cli):
    manifest = signed_pack / cli.MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b'"executable":true', b'"executable":false'))

    _, verdict = cli.verify_json(signed_pack, keys.pub)

    cli.assert_refused_at(verdict, "signature")


# --- key rotation ---------------------------------------------------------


def test_rotation_the_key_id_selects_the_trusted_key(tmp_path, keys, other_keys, key_store, cli):
    third = key_store("third").copy_to(tmp_path / "third")
    signers = {}
    for pair in (keys, other_keys):
        bundle = cli.build_pack(tmp_path / f"pack-{pair.key.stem}")
        cli.sign_ok(bundle, pair)
        result, verdict = cli.verify_json(bundle, keys.pub, other_keys.pub)
        assert result.returncode == 0, cli.describe(result)
        [signer] = verdict["signers"]
        assert cli.names_key_id(signer["key_id"], pair.pub), verdict
        signers[pair.key.stem] = signer["key_id"]
    assert signers["trusted"] != signers["other"]

    bundle = cli.build_pack(tmp_path / "pack-third")
    cli.sign_ok(bundle, third)
    result, verdict = cli.verify_json(bundle, keys.pub, other_keys.pub)
    assert result.returncode == 1, cli.describe(result)
    failed = cli.assert_refused_at(verdict, "signature")
    assert cli.names_key_id(failed["detail"], third.pub), failed


# --- refusals by the statement check --------------------------------------


def test_manifest_with_wrong_predicate_type_is_refused(signed_pack, keys, cli):
    import json

    import rfc8785

    statement = json.loads((signed_pack / cli.MANIFEST).read_bytes())
    statement["predicateType"] = "https://slsa.dev/provenance/v1"
    data = rfc8785.dumps(statement)
    cli.resign_manifest(signed_pack, keys, data, cli.trusted_comment(signed_pack / cli.MANIFEST_SIG))

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    cli.assert_refused_at(verdict, "statement")


def test_manifest_not_in_canonical_json_is_refused(signed_pack, keys, cli):
    import json

    statement = json.loads((signed_pack / cli.MANIFEST).read_bytes())
    data = json.dumps(statement, indent=2).encode()
    cli.resign_manifest(signed_pack, keys, data, cli.trusted_comment(signed_pack / cli.MANIFEST_SIG))

    _, verdict = cli.verify_json(signed_pack, keys.pub)

    cli.assert_refused_at(verdict, "statement")


def test_manifest_with_a_duplicate_key_is_refused(signed_pack, keys, cli):
    data = (signed_pack / cli.MANIFEST).read_bytes()
    assert data.startswith(b"{")
    data = b'{"_type":"https://in-toto.io/Statement/v1",' + data[1:]
    cli.resign_manifest(signed_pack, keys, data, cli.trusted_comment(signed_pack / cli.MANIFEST_SIG))

    _, verdict = cli.verify_json(signed_pack, keys.pub)

    cli.assert_refused_at(verdict, "statement")


@pytest.mark.parametrize(
    "target",
    ["../../outside.txt", "/etc/passwd", "../../../../../../etc/passwd"],
)
def test_link_escaping_the_bundle_is_refused_at_verify_time(signed_pack, keys, cli, target):
    cli.craft_manifest(
        signed_pack,
        keys,
        lambda entries: cli.retarget_link_entry(cli.entry_for(entries, "docs/latest.md"), "guide.md", target),
    )
    (signed_pack / "docs/latest.md").unlink()
    (signed_pack / "docs/latest.md").symlink_to(target)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert verdict["checks"][-1]["ok"] is False
    assert verdict["checks"][-1]["name"] in ("statement", "files"), verdict
    assert "docs/latest.md" in verdict["checks"][-1]["detail"], verdict


# --- unsafe content added after signing ------------------------------------


def test_fifo_added_after_signing_is_refused_without_blocking(signed_pack, keys, cli):
    os.mkfifo(signed_pack / "docs" / "queue")

    result, verdict = cli.verify_json(signed_pack, keys.pub)  # a blocking open would time out

    assert result.returncode == 1, cli.describe(result)
    assert verdict["checks"][-1]["name"] == "files", verdict
    assert "docs/queue" in verdict["checks"][-1]["detail"], verdict


@pytest.mark.parametrize(
    ("existing", "added"),
    [("README.md", "readme.md"), ("données/café.txt", "données/" + "café.txt".replace("é", "e\u0301"))],
    ids=["casefold", "nfc"],
)
def test_name_colliding_with_a_signed_name_added_after_signing_is_refused(signed_pack, keys, cli, existing, added):
    (signed_pack / added).write_bytes((signed_pack / existing).read_bytes())

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    assert verdict["checks"][-1]["name"] == "files", verdict
    detail = verdict["checks"][-1]["detail"]
    import unicodedata

    assert unicodedata.normalize("NFC", added) in unicodedata.normalize("NFC", detail), detail
