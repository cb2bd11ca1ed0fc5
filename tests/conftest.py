"""Shared fixtures for the packseal test suite."""

import shutil

import pytest

pytest_plugins = ["sigstore_local.plugin"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without stock minisign, the interop tests cannot run: say so in one line, before dozens fail."""
    if shutil.which("minisign") is None:
        pytest.exit(
            "stock minisign is not installed: run `sudo apt-get install minisign` (Debian), "
            "or run the tests with scripts/test, which installs it",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
