"""One exception root: anything packseal raises is a `PacksealError`, defined in an errors module."""

import importlib
import inspect
import pkgutil

import pytest

import attest
import attest.errors
import signing
import signing.errors
from attest.commit_id import check_full_commit
from signing.errors import BundleError, ExitStatus, PacksealError, PinMismatchError, exit_status
from signing.pins import SourcePin
from signing.source_checks import _expect

ERRORS_MODULES = {"attest.errors", "signing.errors"}


def _modules() -> list[str]:
    names = []
    for package in (attest, signing):
        names += [info.name for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return names


def test_both_packages_share_one_root():
    assert signing.errors.PacksealError is attest.errors.PacksealError
    assert issubclass(attest.errors.AttestError, PacksealError)


def test_an_attest_error_is_caught_as_a_packseal_error():
    with pytest.raises(PacksealError, match="not a full commit id"):
        check_full_commit("abc")
    with pytest.raises(PacksealError, match="not a full commit id"):
        SourcePin("https://github.com/acme/pack", "abc")


@pytest.mark.parametrize("module", _modules())
def test_every_public_error_is_defined_in_an_errors_module_under_the_root(module: str):
    """An error class of the API lives in `attest.errors` or `signing.errors`, and derives from the root.

    Private classes (a leading underscore) are exempt: `signing.backends.sigstore._PolicyMismatch` must
    derive from sigstore's `VerificationError` to be raised through sigstore's policy, and never escapes.
    """
    for name, value in vars(importlib.import_module(module)).items():
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module:
            assert name.startswith("_") or module in ERRORS_MODULES, f"{module}.{name}"
            if module in ERRORS_MODULES:
                assert issubclass(value, PacksealError), f"{module}.{name}"


def test_a_pin_mismatch_is_its_own_kind_refused_not_an_unreadable_bundle():
    with pytest.raises(PinMismatchError, match="source commit is 'a', pinned 'b'") as refused:
        _expect("source commit", "a", "b")
    assert not isinstance(refused.value, BundleError)
    assert exit_status(refused.value) is ExitStatus.REFUSED
