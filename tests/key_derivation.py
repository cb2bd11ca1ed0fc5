"""Encrypted test keys at a cheap scrypt cost, so a password test takes milliseconds, not seconds.

`packseal keygen` encrypts a secret key at stock minisign's scrypt cost
(libsodium's "sensitive" limits: seconds and 1 GiB per derivation), and
whoever unlocks the key pays the cost the key file names. The suite makes
its keys in process at libsodium's minimum instead, by patching the
backend's private constants: nothing in `signing` reads this module, and
no option, environment variable or file can lower the cost a user gets.
Stock minisign reads the cost from the key file too, so cheap keys
interoperate exactly as stock-cost ones do; the tests that prove the stock
cost (and interop at it) use `stock_key_derivation`.

Run as a script, this module is the `packseal` command with cheap key
derivation, for tests that run packseal from a shell (tests/test_docs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from unittest import mock

from signing.backends import minisign

# libsodium's smallest scryptsalsa208sha256 limits: N = 2^10, r = 8, p = 1.
CHEAP_OPSLIMIT = 32_768
CHEAP_MEMLIMIT = 16_777_216
# The backend's own cost, read before anything here patches it.
_PRODUCTION_COST = minisign._SCRYPT_OPSLIMIT, minisign._SCRYPT_MEMLIMIT


@contextmanager
def _key_derivation_cost(opslimit: int, memlimit: int) -> Iterator[None]:
    with (
        mock.patch.object(minisign, "_SCRYPT_OPSLIMIT", opslimit),
        mock.patch.object(minisign, "_SCRYPT_MEMLIMIT", memlimit),
    ):
        yield


def cheap_key_derivation() -> AbstractContextManager[None]:
    """Keys made in this process while it lasts are encrypted at the cheapest scrypt cost."""
    return _key_derivation_cost(CHEAP_OPSLIMIT, CHEAP_MEMLIMIT)


def stock_key_derivation() -> AbstractContextManager[None]:
    """Keys made in this process while it lasts are encrypted at the cost packseal gives a user."""
    return _key_derivation_cost(*_PRODUCTION_COST)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    from signing.cli import main

    sys.argv[0] = str(Path(sys.executable).parent / "packseal")  # click names the program after it
    with cheap_key_derivation():
        main()
