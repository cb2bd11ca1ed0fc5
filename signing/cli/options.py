"""Options shared by several commands."""

from collections.abc import Callable
from pathlib import Path

import click


def sigstore_instance_options(command: Callable[..., int]) -> Callable[..., int]:
    """--staging and --trust-config: which Sigstore to sign with or verify against."""
    command = click.option("--staging", is_flag=True, help="Use Sigstore's staging instance.")(command)
    return click.option(
        "--trust-config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A Sigstore ClientTrustConfig JSON (trusted root and signing config) for a private instance.",
    )(command)
