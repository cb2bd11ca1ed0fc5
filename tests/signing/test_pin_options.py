"""`SourcePin.from_options`: which pin settings go together, the same for a Python caller as for the CLI."""

import pytest

from signing.errors import TrustPolicyError
from signing.pins import SourcePin

REPOSITORY = "https://github.com/acme/pack"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_nothing_stated_is_no_pin():
    assert SourcePin.from_options() is None
    assert SourcePin.from_options(locked=True, require_checkout=True) is None


def test_a_full_pin_keeps_every_setting():
    pin = SourcePin.from_options(REPOSITORY, COMMIT, ref="refs/tags/v1", builder_id="b", require_checkout=True)
    assert pin == SourcePin(REPOSITORY, COMMIT, ref="refs/tags/v1", builder_id="b", require_checkout=True)


@pytest.mark.parametrize(
    "settings",
    [{"repository": REPOSITORY}, {"commit": COMMIT}, {"ref": "refs/heads/main"}, {"builder_id": "b"}, {}],
)
def test_a_partial_pin_or_a_checkout_alone_is_refused(settings):
    with pytest.raises(TrustPolicyError, match="needs both --source-repo and --source-commit"):
        SourcePin.from_options(**settings, require_checkout=not settings)


@pytest.mark.parametrize("settings", [{"commit": COMMIT}, {"ref": ""}, {"repository": REPOSITORY, "commit": COMMIT}])
def test_a_lock_file_excludes_any_stated_pin(settings):
    with pytest.raises(TrustPolicyError, match="--lock excludes"):
        SourcePin.from_options(**settings, locked=True)


def test_an_empty_value_still_states_a_pin_and_is_refused():
    """An unset shell variable must never turn the pin off."""
    with pytest.raises(TrustPolicyError, match="repository is empty"):
        SourcePin.from_options("", COMMIT)
