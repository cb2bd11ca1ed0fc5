"""The `packseal` command: parse arguments, call the library, print the outcome.

One module per job: a command group each (`keygen`, `sign` with `attest`,
`verify`, `selfcheck` for `self`, `lock`, `policy`), the passwords and secret keys the
signing commands share (`keys`), the options read from the environment
(`environment`), and how a command ends, its exit status (`exits`).

Exit codes are the same on every command (`signing.errors.ExitStatus`): 0
verified or done; 1 refused; 2 asked wrongly; 130 interrupted.
"""

import io
import logging
import os
import sys

import click

from signing.cli import audit, install, keygen, lock, policy, selfcheck, sign, verify, version, watch
from signing.cli.environment import ENVIRONMENT_OPTIONS as ENVIRONMENT_OPTIONS
from signing.cli.environment import configure_environment, refuse_trust_from_environment
from signing.cli.exits import Invocation, exit_statuses, print_help_when_bare, watch_json_options
from signing.errors import ExitStatus


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
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


cli.add_command(keygen.keygen)
cli.add_command(sign.sign)
cli.add_command(sign.attest)
cli.add_command(verify.verify_bundle_command)
cli.add_command(install.install_command)
cli.add_command(selfcheck.self_group)
cli.add_command(lock.lock_group)
cli.add_command(audit.audit_group)
cli.add_command(policy.policy_group)
cli.add_command(version.version_command)
cli.add_command(watch.watch_group)

_COMMAND_LINE_ONLY = configure_environment(cli)
watch_json_options(cli)


def quiet_dependencies() -> None:
    """Keep the log lines of sigstore and TUF off the terminal: packseal says what matters in its own words.

    Without a handler of their own, Python prints their warnings on stderr
    ("TUF repository is loaded in offline mode"); a program that embeds
    packseal's library configures logging itself, so only the CLI does this.
    """
    for library in ("sigstore", "tuf", "securesystemslib", "urllib3"):
        logging.getLogger(library).addHandler(logging.NullHandler())


def main() -> None:
    """Entry point of the `packseal` console script: run a command, exit with its `ExitStatus`."""
    quiet_dependencies()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A path that is not valid UTF-8 is printed escaped, never a crash mid-verdict.
            stream.reconfigure(errors="backslashreplace")
    invocation = Invocation()
    with exit_statuses(invocation):
        refuse_trust_from_environment(_COMMAND_LINE_ONLY, os.environ)
        status = cli.main(standalone_mode=False, obj=invocation)
    sys.exit(status or ExitStatus.DONE)
