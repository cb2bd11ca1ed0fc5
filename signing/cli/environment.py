"""Which options a command reads from the environment: `PACKSEAL_<COMMAND>_<OPTION>`, and only where listed.

An option that decides trust is never read from the environment, and a
variable named like one is refused rather than silently ignored.
"""

from collections.abc import Iterator, Mapping

import click

from signing.errors import TrustPolicyError

ENVIRONMENT_OPTIONS: dict[str, frozenset[str]] = {
    "keygen": frozenset({"--output-dir", "--name", "--no-password", "--password-file", "--quiet"}),
    "sign": frozenset(
        {"--password-file", "--trusted-comment", "--sigstore", "--identity-token", "--output-dir", "--bundle-version"}
        | {"--quiet"}
    ),
    "attest": frozenset(
        {"--password-file", "--trusted-comment", "--sigstore", "--identity-token", "--output-dir", "--quiet"}
        | {"--source-repo", "--source-commit", "--source-ref", "--builder-id"}
    ),
    "verify-bundle": frozenset({"--json", "--quiet"}),
    "install": frozenset({"--json", "--dry-run", "--max-bytes", "--max-files", "--max-ratio", "--max-size", "--quiet"}),
    "self record": frozenset(
        {"--binary", "--python", "--distribution", "--script", "--out", "--password-file", "--quiet"}
    ),
    "self check": frozenset({"--json"}),
    "version": frozenset(),
    "lock add": frozenset(),
    "audit verify": frozenset({"--log", "--json"}),
    "audit show": frozenset({"--log", "--json"}),
    "audit head": frozenset({"--log", "--out", "--password-file", "--quiet"}),
    "watch record": frozenset({"--out", "--pattern", "--password-file", "--quiet"}),
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


def commands(command: click.Command, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under `command` (itself, if it has none), by its path (`self check`); imports them all."""
    if not isinstance(command, click.Group):
        yield path, command
        return
    context = click.Context(command)
    for name in command.list_commands(context):
        subcommand = command.get_command(context, name)
        if subcommand is not None:
            yield from commands(subcommand, f"{path} {name}".lstrip())


def long_flag(option: click.Option) -> str:
    return next(flag for flag in option.opts if flag.startswith("--"))


def configure_environment(path: str, command: click.Command) -> None:
    """Give each option of `command` (named `path`) and of its subcommands its environment variable, or none.

    Per `ENVIRONMENT_OPTIONS`: the CLI calls this as each command is
    imported, so a command not run is never imported to be configured.
    """
    for leaf_path, leaf in commands(command, path):
        allowed = ENVIRONMENT_OPTIONS[leaf_path]
        options = [param for param in leaf.params if isinstance(param, click.Option)]
        unknown = allowed - {long_flag(option) for option in options}
        assert not unknown, f"ENVIRONMENT_OPTIONS names what {leaf_path} lacks: {sorted(unknown)}"
        for option in options:
            flag = long_flag(option)
            if flag in allowed:
                option.envvar = environment_variable(leaf_path, flag)
                option.show_envvar = True
            else:
                option.envvar = None


def refuse_trust_from_environment(group: click.Group, environment: Mapping[str, str]) -> None:
    """A variable named like a trust option is set: say it is not read, rather than ignore it silently.

    Which options decide trust is known only from the commands themselves,
    so they are all imported, but only when a `PACKSEAL_<COMMAND>_...`
    variable is set that is not one of those read from the environment:
    the usual start-up imports nothing more than the command it runs.
    """
    read = {environment_variable(path, flag) for path, flags in ENVIRONMENT_OPTIONS.items() for flag in flags}
    prefixes = tuple(environment_variable(path, "") for path in ENVIRONMENT_OPTIONS)
    if not any(name.startswith(prefixes) and name not in read for name in environment):
        return
    command_line_only = sorted(
        (path, long_flag(option))
        for path, command in commands(group)
        for option in command.params
        if isinstance(option, click.Option) and option.envvar is None
    )
    for path, flag in command_line_only:
        name = environment_variable(path, flag)
        if name in environment:
            raise TrustPolicyError(
                f"{name} is set, but {path} {flag} decides trust and is read only from the command line: "
                "unset it, and give the option on the command line"
            )
