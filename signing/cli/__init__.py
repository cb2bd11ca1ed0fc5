"""The `packseal` command: parse arguments, call the library, print the outcome.

One module per job: a command group each (`keygen`, `sign` with `attest`,
`verify`, `install`, `policy`, `lock`, `watch`, `audit`, `selfcheck` for
`self`, `version`), the passwords and secret keys the signing commands
share (`keys`), the trust options of the verifying commands (`trust`),
options shared by several commands (`options`), the options read from the
environment (`environment`), and how a command ends, its exit status
(`exits`).
A command's module is imported only when that command runs (`lazy`), so
`verify-bundle` starts without importing what signing or Sigstore need.

Exit codes are the same on every command (`signing.errors.ExitStatus`): 0
verified or done; 1 refused; 2 asked wrongly; 130 interrupted.
"""

import io
import os
import sys

import click

from signing.cli import version
from signing.cli.environment import ENVIRONMENT_OPTIONS as ENVIRONMENT_OPTIONS
from signing.cli.environment import configure_environment, refuse_trust_from_environment
from signing.cli.exits import Invocation, exit_statuses, print_help_when_bare, watch_json_options
from signing.cli.lazy import LazyGroup
from signing.errors import ExitStatus

COMMANDS = {
    "keygen": "signing.cli.keygen:keygen",
    "sign": "signing.cli.sign:sign",
    "attest": "signing.cli.sign:attest",
    "verify-bundle": "signing.cli.verify:verify_bundle_command",
    "install": "signing.cli.install:install_command",
    "policy": "signing.cli.policy:policy_group",
    "lock": "signing.cli.lock:lock_group",
    "watch": "signing.cli.watch:watch_group",
    "audit": "signing.cli.audit:audit_group",
    "self": "signing.cli.selfcheck:self_group",
    "version": "signing.cli.version:version_command",
}
"""Each command of `packseal`, and the `module:attribute` it is imported from when run."""


def prepare_command(name: str, command: click.Command) -> None:
    """Finish a command as it is imported: its options' environment variables, and `--json` watched."""
    configure_environment(name, command)
    watch_json_options(command)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    prepare=prepare_command,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=version.print_version,
    help="Print the versions of packseal, sigstore and py-minisign, and the shipped trusted root's date.",
)
@click.pass_context
def cli(context: click.Context) -> None:
    """Sign bundles, and verify them before they are installed."""
    print_help_when_bare(context)


def quiet_dependencies() -> None:
    """Keep the log lines of sigstore and TUF off the terminal: packseal says what matters in its own words.

    Without a handler of their own, Python prints their warnings on stderr
    ("TUF repository is loaded in offline mode"); a program that embeds
    packseal's library configures logging itself, so only the CLI does this.
    A command calls it where it chooses what logs (a Sigstore instance, a
    remote source), not at start-up: `logging` and what it imports were 4%
    of the instructions of `verify-bundle` with minisign, which needs none of it.
    """
    import logging

    for library in ("sigstore", "tuf", "securesystemslib", "urllib3"):
        logging.getLogger(library).addHandler(logging.NullHandler())


def main() -> None:
    """Entry point of the `packseal` console script: run a command, exit with its `ExitStatus`."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A path that is not valid UTF-8 is printed escaped, never a crash mid-verdict.
            stream.reconfigure(errors="backslashreplace")
    invocation = Invocation()
    with exit_statuses(invocation):
        refuse_trust_from_environment(cli, os.environ)
        status = cli.main(standalone_mode=False, obj=invocation)
    sys.exit(status or ExitStatus.DONE)
