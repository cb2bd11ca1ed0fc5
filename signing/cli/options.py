"""Options shared by several commands, and options that reach a command as one typed value."""

import functools
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

Command = Callable[..., int]


def option_group(
    group: type[Any], argument: str, options: Sequence[Callable[[Command], Command]]
) -> Callable[[Command], Command]:
    """Declare `options`, and hand the command their values as one dataclass `group`, named `argument`.

    The dataclass's fields are the options' Python names, so the command
    reads typed attributes, not a `**kwargs` bag by string keys.
    """

    def decorate(command: Command) -> Command:
        names = [field.name for field in fields(group)]

        @functools.wraps(command)
        def grouped(**arguments: Any) -> int:
            value = group(**{name: arguments.pop(name) for name in names})
            return command(**{argument: value}, **arguments)

        decorated: Command = grouped
        for option in reversed(options):
            decorated = option(decorated)
        return decorated

    return decorate


def sigstore_instance_options(command: Command) -> Command:
    """--staging and --trust-config: which Sigstore to sign with or verify against."""
    command = click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")(command)
    return click.option(
        "--trust-config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A Sigstore ClientTrustConfig JSON (trusted root and signing config) for a private instance.",
    )(command)


def quiet_option(command: Command) -> Command:
    """--quiet: no progress or key-derivation line on stderr (shown only on a terminal anyway)."""
    return click.option(
        "--quiet", "-q", is_flag=True, help="Show no progress on stderr (it is shown only on a terminal)."
    )(command)
