"""`packseal install`: the trust summary before landing, --dry-run, --json, refusals with DEST unchanged."""

import json_output
from trees import snapshot


def signed(run_packseal, pack, key) -> None:
    result = run_packseal("sign", pack, "--minisign-key", key.key)
    assert result.returncode == 0, result.stderr


def policy_file(tmp_path, key) -> str:
    path = tmp_path / "trust.toml"
    path.write_text(f'[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["{key.pub}"]\n')
    return str(path)


def test_install_prints_the_trust_summary_then_lands(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    dest = tmp_path / "plugins"
    dest.mkdir()
    env = {"PACKSEAL_HOME": str(tmp_path / "home")}

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"VERIFIED pack from {pack}" and lines[1] == "  publisher  acme"
    assert lines[-1].startswith(f"INSTALLED pack at {dest / 'pack'}")
    assert snapshot(dest / "pack") == snapshot(pack)


def test_dry_run_json_validates_and_writes_nothing(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    dest = tmp_path / "plugins"
    dest.mkdir()

    result = run_packseal("install", pack, dest, "--minisign-pubkey", key.pub, "--dry-run", "--json",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 0, result.stderr
    document = json_output.parse(result.stdout)
    assert (document["dry_run"], document["installed"], document["record"]) == (True, False, None)
    assert list(dest.iterdir()) == [] and not (tmp_path / "home").exists()


def test_a_refused_install_exits_1_and_leaves_dest_unchanged(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    (pack / "README.md").write_bytes(b"tampered\n")
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "other").mkdir()
    before = snapshot(dest / "other")

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), "--json",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert json_output.parse(result.stdout)["checks"][-1]["name"] == "files"
    assert result.stderr.strip() == f"packseal: error: {pack}: refused at files: changed: README.md"
    assert [path.name for path in dest.iterdir()] == ["other"]
    assert snapshot(dest / "other") == before


def test_policy_with_other_trust_options_is_a_usage_error(tmp_path, pack, key_store, run_packseal):
    key = key_store("trusted")
    result = run_packseal(
        "install", pack, tmp_path, "--policy", policy_file(tmp_path, key), "--minisign-pubkey", key.pub
    )

    assert result.returncode == 2, result.stderr
    assert "--policy excludes --minisign-pubkey: the policy file says whom to trust" in result.stderr


def test_max_bytes_bounds_a_directory_source_as_it_copies(tmp_path, pack, key_store, run_packseal):
    """A sparse file 2 GiB long is refused at 1 MiB copied, in one line, and DEST is as it was."""
    key = key_store("trusted")
    signed(run_packseal, pack, key)
    with (pack / "huge.bin").open("wb") as huge:
        huge.truncate(2 * 1024**3)
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "other").mkdir()
    before = snapshot(dest / "other")

    result = run_packseal("install", pack, dest, "--policy", policy_file(tmp_path, key), "--max-bytes", "1048576",
                          env={"PACKSEAL_HOME": str(tmp_path / "home")})  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert result.stderr == f"packseal: error: {pack}: more than 1048576 bytes to copy (--max-bytes); refused\n"
    assert sorted(path.name for path in dest.iterdir()) == ["other"]
    assert snapshot(dest / "other") == before
