"""`packseal lock add`: write a lock entry from a bundle that verified, so nobody writes lock files by hand."""

from pathlib import Path

import click

from signing.cli.exits import print_help_when_bare
from signing.cli.trust import TrustOptions, trust_options
from signing.cli.verify import summary
from signing.errors import ExitStatus
from signing.layout import bundle_name
from signing.pins import LockFile
from signing.terminal import escape
from signing.verify import lock_pin


@click.group("lock", invoke_without_command=True)
@click.pass_context
def lock_group(context: click.Context) -> None:
    """Pin bundles in a lock file, from what their signed provenance states."""
    print_help_when_bare(context)


@lock_group.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--lock",
    "lock_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The lock file to add the entry to (created if missing).",
)
@click.option("--replace", is_flag=True, help="Replace an entry that pins something else.")
@trust_options
def add(path: Path, lock_path: Path, replace: bool, trust: TrustOptions) -> int:
    """Verify PATH and its provenance, then pin it in the lock file: digest, repository, commit, ref, builder."""
    lock = LockFile.read_or_new(lock_path)
    verdict, pin = lock_pin(path, trust.policy(), signatures=trust.signatures(), signatures_dir=trust.signatures_dir)
    if pin is None:
        click.echo(summary(verdict))
        return ExitStatus.REFUSED
    name = bundle_name(path)
    lock.with_pin(name, pin, replace=replace).write()
    click.echo(escape(f"locked {name} in {lock_path}: {pin.repository} at {pin.commit} (sha256:{pin.digest})"))
    return ExitStatus.DONE
