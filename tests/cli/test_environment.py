"""Which options the environment may set: `PACKSEAL_<COMMAND>_<OPTION>`, and never trust.

Whoever sets a command's environment must not choose whom it trusts: today's
`PACKSEAL_VERIFY_BUNDLE_TRUSTED_ROOT` silently replaced the Sigstore trust
root. The list of trust options below is this test's own statement of the
rule, not read from the code, so an option added later must be classified
here: a trust option has no environment variable (and a variable named like
one is refused), every other option has exactly the documented name.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import json_output
import pytest

from signing.cli import cli as packseal_cli

ROOT = Path(__file__).resolve().parents[2]
SIGSTORE_TRUST = {
    "--certificate-identity",
    "--certificate-identity-regexp",
    "--certificate-oidc-issuer",
    "--certificate-oidc-issuer-regexp",
    "--github-repository",
    "--github-ref",
    "--github-sha",
    "--github-workflow-trigger",
    "--offline",
    "--trusted-root",
    "--staging",
    "--trust-config",
}
PINS = {"--source-repo", "--source-commit", "--source-ref", "--builder-id", "--git-checkout", "--lock"}
TRUST_OPTIONS = {
    "keygen": set(),
    "sign": {"--minisign-key", "--staging", "--trust-config"},
    "attest": {"--minisign-key", "--staging", "--trust-config", "--allow-dirty"},
    "install": {"--policy", "--lock", "--minisign-pubkey", "--signature", "--bundle", "--signatures-dir"}
    | {"--allow-downgrade", "--ref"}
    | SIGSTORE_TRUST,
    "verify-bundle": {"--policy", "--minisign-pubkey", "--signature", "--bundle", "--signatures-dir"}
    | SIGSTORE_TRUST
    | PINS,
    "self record": {"--minisign-key"},
    "self check": {"--record", "--binary", "--python", "--script", "--minisign-pubkey", "--allow-unsigned"},
    "version": set(),
    "policy check": set(),
    "lock add": {"--lock", "--replace", "--policy", "--minisign-pubkey", "--signature", "--bundle", "--signatures-dir"}
    | SIGSTORE_TRUST,
    "audit verify": {"--head", "--minisign-pubkey"},
    "audit show": set(),
    "audit head": {"--minisign-key"},
    "watch record": {"--minisign-key"},
    "watch check": {"--state", "--minisign-pubkey", "--allow-unsigned"},
}


def commands(group: click.Group = packseal_cli, prefix: str = ""):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def long_flag(option: click.Option) -> str:
    return next(flag for flag in option.opts if flag.startswith("--"))


def documented_name(command: str, flag: str) -> str:
    return "PACKSEAL_" + re.sub(r"[- ]", "_", f"{command} {flag[2:]}").upper()


ALL_OPTIONS = [
    (path, long_flag(param), param)
    for path, command in commands()
    for param in command.params
    if isinstance(param, click.Option)
]


def test_every_command_is_classified() -> None:
    assert {path for path, _ in commands()} == set(TRUST_OPTIONS)
    for path, flags in TRUST_OPTIONS.items():
        assert flags <= {flag for command, flag, _ in ALL_OPTIONS if command == path}, path


@pytest.mark.parametrize("command, flag, option", ALL_OPTIONS, ids=[f"{c} {f}" for c, f, _ in ALL_OPTIONS])
def test_trust_options_have_no_environment_variable_and_others_the_documented_one(
    command: str, flag: str, option: click.Option
) -> None:
    if flag in TRUST_OPTIONS[command]:
        assert option.envvar is None
    else:
        assert option.envvar == documented_name(command, flag)


TRUST_VARIABLES = sorted(documented_name(command, flag) for command, flags in TRUST_OPTIONS.items() for flag in flags)


@pytest.mark.parametrize("name", TRUST_VARIABLES)
def test_a_variable_named_like_a_trust_option_is_refused(name: str, signed_pack: Path, keys, cli) -> None:
    result = cli.verify(signed_pack, keys.pub, env={name: "anything"})

    assert result.returncode == 2, cli.describe(result)
    assert result.stdout == "", cli.describe(result)
    assert result.stderr.startswith(f"packseal: error: {name} is set"), cli.describe(result)


def test_the_environment_cannot_replace_the_sigstore_trust_root(signed_pack: Path, tmp_path: Path, cli) -> None:
    """The finding: a trusted root planted through the environment of a command that did not ask for one."""
    planted = tmp_path / "attacker-root.json"
    planted.write_text("{}")
    result = cli.verify(
        signed_pack,
        extra=("--certificate-identity", "someone@example.com", "--certificate-oidc-issuer", "https://example.com"),
        env={"PACKSEAL_VERIFY_BUNDLE_TRUSTED_ROOT": str(planted), "PACKSEAL_VERIFY_BUNDLE_OFFLINE": "1"},
    )

    assert result.returncode == 2, cli.describe(result)
    assert "PACKSEAL_VERIFY_BUNDLE_OFFLINE is set" in result.stderr, cli.describe(result)


# --- the variables that may be set do what they say ---------------------------


def test_json_from_the_environment(signed_pack: Path, keys, cli, tmp_path: Path) -> None:
    verified = cli.verify(signed_pack, keys.pub, env={"PACKSEAL_VERIFY_BUNDLE_JSON": "1"})
    binary = tmp_path / "daemon"
    binary.write_bytes(b"a daemon\n")
    record = tmp_path / "daemon.record"
    recorded = cli.packseal("self", "record", env={"PACKSEAL_SELF_RECORD_BINARY": str(binary),
                                                   "PACKSEAL_SELF_RECORD_OUT": str(record)})  # fmt: skip
    checked = cli.packseal("self", "check", "--record", record, "--binary", binary, "--allow-unsigned",
                           env={"PACKSEAL_SELF_CHECK_JSON": "true"})  # fmt: skip

    assert json_output.parse(verified.stdout)["verified"] is True, cli.describe(verified)
    assert recorded.returncode == 0 and record.is_file(), cli.describe(recorded)
    assert json_output.parse(checked.stdout)["verified"] is True, cli.describe(checked)


def test_keygen_entirely_from_the_environment(tmp_path: Path, cli) -> None:
    result = cli.packseal(
        "keygen",
        env={
            "PACKSEAL_KEYGEN_OUTPUT_DIR": str(tmp_path / "keys"),
            "PACKSEAL_KEYGEN_NAME": "release",
            "PACKSEAL_KEYGEN_NO_PASSWORD": "1",
        },
    )

    assert result.returncode == 0, cli.describe(result)
    assert (tmp_path / "keys" / "release.pub").is_file()
    assert b"encrypted" not in (tmp_path / "keys" / "release.key").read_bytes()


def test_signing_options_from_the_environment(pack: Path, key_store, tmp_path: Path, cli) -> None:
    locked = key_store("locked", password=cli.PASSWORD).copy_to(tmp_path / "locked")
    password_file = tmp_path / "password"
    password_file.write_text(cli.PASSWORD + "\n")
    signed = cli.packseal(
        "sign",
        pack,
        "--minisign-key",
        locked.key,
        env={"PACKSEAL_SIGN_PASSWORD_FILE": str(password_file), "PACKSEAL_SIGN_TRUSTED_COMMENT": "from the env"},
    )
    both = cli.packseal("sign", pack, "--minisign-key", locked.key, env={"PACKSEAL_SIGN_SIGSTORE": "1"})

    assert signed.returncode == 0, cli.describe(signed)
    comment = cli.trusted_comment(pack / cli.MANIFEST_SIG)
    assert comment.startswith("packseal bundle-manifest sha256:") and comment.endswith(" from the env"), comment
    assert both.returncode == 2 and "exactly one of --minisign-key and --sigstore" in both.stderr, cli.describe(both)


def test_attest_facts_from_the_environment(pack: Path, keys, cli) -> None:
    result = cli.packseal(
        "attest",
        pack,
        "--minisign-key",
        keys.key,
        env={
            "PACKSEAL_ATTEST_SOURCE_REPO": "https://github.com/acme/pack",
            "PACKSEAL_ATTEST_SOURCE_COMMIT": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "PACKSEAL_ATTEST_BUILDER_ID": "https://ci.example.com/builders/release",
        },
    )

    assert result.returncode == 0, cli.describe(result)


def test_the_readme_names_only_variables_that_exist() -> None:
    section = (ROOT / "README.md").read_text().split("## Configuration from the environment", 1)[1].split("\n## ")[0]
    readable = {option.envvar for _, _, option in ALL_OPTIONS if option.envvar} | {"PACKSEAL_PASSWORD", "PACKSEAL_HOME"}
    named = set(re.findall(r"PACKSEAL_[A-Z_]+(?<!_)", section))
    refused = set(TRUST_VARIABLES)

    assert named, section
    assert named <= readable | refused, named - readable - refused
    for _command, flag, option in ALL_OPTIONS:
        if option.envvar:
            assert f"`{flag}`" in section, flag
