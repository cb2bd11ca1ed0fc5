"""`packseal version` and `packseal --version`: what is installed, and how old the shipped Sigstore root is.

A bug report needs the versions of the two signing libraries as much as
packseal's own, and `--offline` verifies with the trusted root shipped
inside sigstore, whose age decides which Sigstore keys it knows.
"""

import click

DISTRIBUTIONS = ("packseal", "sigstore", "py-minisign")


def version_lines() -> list[str]:
    """One line per distribution, then the date of the trusted root `--offline` uses; read without network."""
    from signing.backends.sigstore import shipped_trusted_root_date

    lines = [f"{name} {_installed(name)}" for name in DISTRIBUTIONS]
    root_date = shipped_trusted_root_date().date().isoformat()
    lines.append(
        f"sigstore trusted root {root_date} (shipped in sigstore, used by --offline; its newest validFor.start)"
    )
    return lines


def _installed(name: str) -> str:
    # Imported here: importlib.metadata is slow to import, and `--version` is an option of every run.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "(not installed)"


def print_version(context: click.Context, _: click.Parameter, value: bool) -> None:
    """The `--version` flag: print what `packseal version` prints, and stop."""
    if value and not context.resilient_parsing:
        click.echo("\n".join(version_lines()))
        context.exit()


@click.command("version")
def version_command() -> int:
    """Print the versions of packseal, sigstore and py-minisign, and the date of sigstore's shipped trusted root."""
    click.echo("\n".join(version_lines()))
    return 0
