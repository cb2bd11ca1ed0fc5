"""`packseal keygen`: a minisign key pair, as stock `minisign -G` writes it."""

import sys
from pathlib import Path

import click

from signing.backends import minisign as minisign_backend
from signing.cli.keys import PASSWORD_FILE_HELP, password
from signing.cli.options import quiet_option
from signing.progress import progress_for_terminal
from signing.terminal import escape


@click.command()
@click.option(
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory to write the key pair into (created if missing).",
)
@click.option("--name", default="packseal", show_default=True, help="Writes NAME.key and NAME.pub.")
@click.option("--no-password", is_flag=True, help="Leave the secret key unencrypted.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), help=PASSWORD_FILE_HELP)
@quiet_option
def keygen(output_dir: Path, name: str, no_password: bool, password_file: Path | None, quiet: bool) -> int:
    """Generate a minisign key pair, as stock `minisign -G` would."""
    if no_password and password_file:
        raise click.UsageError("--no-password and --password-file exclude each other")
    chosen = None if no_password else password(password_file, key=output_dir / f"{name}.key", confirm=True)
    with progress_for_terminal(sys.stderr, quiet=quiet) as progress:
        files = minisign_backend.generate_key_pair(output_dir, name, chosen, progress=progress)
    click.echo(f"secret key: {escape(str(files.secret_key))}")
    click.echo(f"public key: {escape(str(files.public_key))} (key id {files.key_id})")
    return 0
