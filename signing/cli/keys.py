"""Passwords and secret keys for the commands that sign.

Those are `keygen`, `sign`, `attest`, `self record`, `watch record` and
`audit head`.

A password comes from `--password-file`, else `PACKSEAL_PASSWORD`, else a
prompt on a terminal; without any of them, the command is refused rather
than left waiting for input that will never come.
"""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signing.errors import KeyFileError
from signing.progress import Progress
from signing.terminal import escape

if TYPE_CHECKING:
    import minisign

PASSWORD_ENVIRONMENT_VARIABLE = "PACKSEAL_PASSWORD"
PASSWORD_FILE_HELP = (
    f"A file whose first line is the key's password (else ${PASSWORD_ENVIRONMENT_VARIABLE}, else a prompt)."
)


def password(password_file: Path | None, *, key: Path, confirm: bool) -> str:
    """The password of `key` from --password-file, else the environment, else a terminal prompt naming `key`."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise KeyFileError(f"{password_file}: cannot read password file: {err}") from None
        if not lines or not lines[0]:
            raise KeyFileError(f"{password_file}: password file is empty")
        return lines[0]
    from_environment = os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE)
    if from_environment:
        return from_environment
    if sys.stdin.isatty():
        return str(click.prompt(f"Password for {escape(str(key))}", hide_input=True, confirmation_prompt=confirm))
    raise KeyFileError(
        f"a password is needed: use --password-file, set {PASSWORD_ENVIRONMENT_VARIABLE}, or run in a terminal"
    )


def unlocked_secret_key(path: Path, password_file: Path | None, progress: Progress) -> "minisign.SecretKey":
    """Read a minisign secret key, asking for its password only when it is encrypted.

    Deriving the key takes seconds (scrypt): `progress` says so on a terminal.
    """
    from signing.backends import minisign as minisign_backend

    secret_key = minisign_backend.read_secret_key(path)
    if secret_key.is_encrypted():
        chosen = password(password_file, key=path, confirm=False)
        minisign_backend.unlock(secret_key, chosen, path=path, progress=progress)
    return secret_key
