"""A click group whose commands are imported when they are run, not when `packseal` starts.

Each command module imports what its command needs (`sign` the build facts
and Git, `verify-bundle` the verifier), so importing all of them at start-up
made every command pay for all the others: `verify-bundle` of a small pack
spent more time importing than verifying. This is click's documented
pattern for it ("Lazily Loading Subcommands"): the group knows each
command's name and where it lives, and imports the module on first lookup.
"""

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

import click

Prepare = Callable[[str, click.Command], None]
"""Called once with each command's name and the command, when it is first imported."""


class LazyGroup(click.Group):
    """A group of commands named `name → "module:attribute"`, each imported on first lookup.

    `prepare` finishes a command once it is imported (the CLI gives its
    options their environment variables there), so a command is the same
    whether it was looked up to run, to print help, or to list them all.
    """

    def __init__(
        self, name: str | None = None, *, lazy_commands: Mapping[str, str], prepare: Prepare, **attributes: Any
    ) -> None:
        super().__init__(name, **attributes)
        self._lazy_commands = dict(lazy_commands)
        self._prepare = prepare

    def list_commands(self, context: click.Context) -> list[str]:
        """The commands in the order of the table (a workflow: keygen, sign, ..., verify), then any added."""
        return [*self._lazy_commands, *(name for name in self.commands if name not in self._lazy_commands)]

    def get_command(self, context: click.Context, name: str) -> click.Command | None:
        if name in self._lazy_commands and name not in self.commands:
            module, attribute = self._lazy_commands[name].split(":")
            command = getattr(import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self._lazy_commands[name]} is not a click command")
            self._prepare(name, command)
            self.add_command(command, name)
        return super().get_command(context, name)

    def resolve_command(
        self, context: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, but a mistyped name is matched against every command, imported or not."""
        try:
            return super().resolve_command(context, args)
        except click.NoSuchCommand as err:
            raise click.NoSuchCommand(
                err.command_name, possibilities=self.list_commands(context), ctx=context
            ) from None
