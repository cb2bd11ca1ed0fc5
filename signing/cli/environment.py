"""Which options a command reads from the environment: `PACKSEAL_<COMMAND>_<OPTION>`, and only where listed.

An option that decides trust is never read from the environment, and a
variable named like one is refused rather than silently ignored.
"""

from collections.abc import Iterator, Mapping

import click

from signing.errors import TrustPolicyError

ENVIRONMENT_OPTIONS: dict[str, frozenset[str]] = {
    "keygen": frozenset({"--output-dir", "--name", "--no-password", "--password-file"}),
    "sign": frozenset(
        {"--password-file", "--trusted-comment", "--sigstore", "--identity-token", "--output-dir", "--bundle-version"}
    ),
    "attest": frozenset(
        {"--password-file", "--trusted-comment", "--sigstore", "--identity-token", "--output-dir"}
        | {"--source-repo", "--source-commit", "--source-ref", "--builder-id"}
    ),
    "verify-bundle": frozenset({"--json"}),
    "install": frozenset({"--json", "--dry-run", "--max-bytes", "--max-files", "--max-ratio", "--max-size"}),
    "self record": frozenset({"--binary", "--python", "--distribution", "--script", "--out", "--password-file"}),
    "self check": frozenset({"--json"}),
    "version": frozenset(),
    "lock add": frozenset(),
    "audit verify": frozenset({"--log", "--json"}),
    "audit show": frozenset({"--log", "--json"}),
    "audit head": frozenset({"--log", "--out", "--password-file"}),
    "watch record": frozenset({"--out", "--pattern", "--password-file"}),
    "watch check": frozenset({"--paranoid", "--json"}),
    "policy check": frozenset({"--json"}),
}
"""The options each command reads from `PACKSEAL_<COMMAND>_<OPTION>` when the command line lacks them.

Every other option decides trust or what is signed with which key: keys,
identities, issuers, workflow claims, the Sigstore instance, trust roots
and configs, `--offline`, policy files, pins, lock files, signature paths and `--signatures-dir`,
`--allow-dirty`, the record and binary `self check` compares, and the state `watch check` compares. Those come
from the command line only: whoever sets the environment of a command must
not silently choose whom it trusts.
"""


def environment_variable(command: str, flag: str) -> str:
    """`PACKSEAL_<COMMAND>_<OPTION>`: `verify-bundle` and `--json` give `PACKSEAL_VERIFY_BUNDLE_JSON`."""
    return "_".join(("PACKSEAL", command, flag.removeprefix("--"))).upper().replace("-", "_").replace(" ", "_")


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under group, by its path (`self check`)."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} ")
        else:
            yield path, command


def long_flag(option: click.Option) -> str:
    return next(flag for flag in option.opts if flag.startswith("--"))


def configure_environment(group: click.Group) -> frozenset[tuple[str, str]]:
    """Give each option its environment variable, or none, per `ENVIRONMENT_OPTIONS`.

    Returns (command, flag) of the options that are never read from the
    environment.
    """
    command_line_only = set()
    for path, command in commands(group):
        allowed = ENVIRONMENT_OPTIONS[path]
        options = [param for param in command.params if isinstance(param, click.Option)]
        unknown = allowed - {long_flag(option) for option in options}
        assert not unknown, f"ENVIRONMENT_OPTIONS names what {path} lacks: {sorted(unknown)}"
        for option in options:
            flag = long_flag(option)
            if flag in allowed:
                option.envvar = environment_variable(path, flag)
                option.show_envvar = True
            else:
                option.envvar = None
                command_line_only.add((path, flag))
    return frozenset(command_line_only)


def refuse_trust_from_environment(
    command_line_only: frozenset[tuple[str, str]], environment: Mapping[str, str]
) -> None:
    """A variable named like a trust option is set: say it is not read, rather than ignore it silently."""
    for command, flag in sorted(command_line_only):
        name = environment_variable(command, flag)
        if name in environment:
            raise TrustPolicyError(
                f"{name} is set, but {command} {flag} decides trust and is read only from the command line: "
                "unset it, and give the option on the command line"
            )
