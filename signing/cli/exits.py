"""How a `packseal` command ends: what it raised, mapped to its exit status, in one place.

Exit codes are the same on every command (`signing.errors.ExitStatus`): 0
verified or done; 1 refused; 2 asked wrongly (bad option, unusable key or
password, missing bundle, malformed trust input, output in the way); 130
interrupted. Errors map to them by type (`signing.errors.exit_status`).
Every error is one line on stderr, `packseal: error: ...`; with `--json`,
it is also one JSON object on stdout, the error object of
`signing/schemas/output.schema.json`, so stdout holds exactly one object
whatever happened.
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import click

from signing.cli.environment import commands, long_flag
from signing.errors import ExitStatus, PacksealError, exit_status
from signing.schemas import JSON_SCHEMA_VERSION
from signing.terminal import escape


@dataclass
class Invocation:
    """What must be known about the command line once a command has failed."""

    as_json: bool = False


def watch_json_options(command: click.Command) -> None:
    """Make every `--json` option of `command` and its subcommands eager and remember it.

    So an error in any other option is answered in JSON.
    """
    for _, leaf in commands(command):
        for option in leaf.params:
            if isinstance(option, click.Option) and long_flag(option) == "--json":
                option.callback = _remember_json
                option.is_eager = True


def _remember_json(context: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        context.ensure_object(Invocation).as_json = True
    return value


def print_help_when_bare(context: click.Context) -> None:
    """A group run without a command prints its help and succeeds, as `git` and `cosign` do."""
    if context.invoked_subcommand is None:
        click.echo(context.get_help())
        context.exit(ExitStatus.DONE)


@contextmanager
def exit_statuses(invocation: Invocation) -> Iterator[None]:
    """Run a command; anything it raises ends the process with its exit status and one line."""
    try:
        yield
    except (KeyboardInterrupt, click.Abort):
        _fail("interrupted", ExitStatus.INTERRUPTED, invocation)
    except click.UsageError as err:
        command = err.ctx.command_path if err.ctx is not None else "packseal"
        _fail(f"{err.format_message()} (see '{command} --help')", ExitStatus.ASKED_WRONGLY, invocation)
    except click.ClickException as err:
        _fail(err.format_message(), ExitStatus.ASKED_WRONGLY, invocation)
    except PacksealError as err:
        _fail(str(err), exit_status(err), invocation)


def _fail(message: str, status: ExitStatus, invocation: Invocation) -> NoReturn:
    if invocation.as_json:
        error = {"schema": JSON_SCHEMA_VERSION, "verified": False, "error": message, "exit_code": int(status)}
        click.echo(json.dumps(error, indent=2))
    click.echo(f"packseal: error: {escape(message)}", err=True)
    sys.exit(status)
