"""Deeply nested bundles on the command line: a verdict or one error line, never a traceback.

Issue 9: 500 nested empty directories crashed `sign` and `verify-bundle`
with a RecursionError, and `verify-bundle --json` printed the traceback
instead of a verdict. 5,000 levels are past PATH_MAX: not signable, but
refused in one line.
"""

import json_output
import pytest
from deep_tree import make_chain, remove_tree


@pytest.fixture
def chain_in(tmp_path):
    """`chain_in(pack, depth)` nests `depth` directories in `pack`, with a file at the bottom; removed afterwards."""
    made = []

    def make(pack, depth):
        make_chain(pack / "nest", depth, leaf_file=b"bottom\n")
        made.append(pack / "nest")

    yield make
    for top in made:
        remove_tree(top)


def _no_traceback(result, cli):
    assert "Traceback" not in result.stdout + result.stderr, cli.describe(result)


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_a_bundle_500_directories_deep_signs_and_verifies(pack, keys, cli, chain_in, as_json):
    chain_in(pack, 500)
    cli.sign_ok(pack, keys)
    result = cli.verify(pack, keys.pub, extra=("--json",) if as_json else ())
    _no_traceback(result, cli)
    assert result.returncode == 0, cli.describe(result)
    if as_json:
        assert json_output.parse(result.stdout)["verified"] is True
    else:
        assert result.stdout.startswith("VERIFIED"), cli.describe(result)


@pytest.fixture(scope="module")
def past_path_max(tmp_path_factory, key_store, cli):
    """A signed pack, then 5,000 nested directories added to it (built once: each mkdir costs)."""
    keys = key_store("trusted")
    pack = cli.build_pack(tmp_path_factory.mktemp("deep") / "pack")
    cli.sign_ok(pack, keys)
    make_chain(pack / "nest", 5000, leaf_file=b"bottom\n")
    yield pack, keys
    remove_tree(pack / "nest")


@pytest.mark.slow
def test_signing_a_bundle_5000_directories_deep_is_one_error_line(past_path_max, cli):
    pack, keys = past_path_max
    before = cli.snapshot(pack / ".packseal")
    result = cli.packseal("sign", pack, "--minisign-key", keys.key)
    _no_traceback(result, cli)
    assert result.returncode != 0, cli.describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("packseal: error: "), cli.describe(result)
    assert "File name too long" in lines[0], cli.describe(result)
    assert cli.snapshot(pack / ".packseal") == before


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_a_chain_5000_directories_deep_added_after_signing_is_refused(past_path_max, cli, as_json):
    pack, keys = past_path_max
    result = cli.verify(pack, keys.pub, extra=("--json",) if as_json else ())
    _no_traceback(result, cli)
    assert result.returncode == 1, cli.describe(result)
    if as_json:
        verdict = json_output.parse(result.stdout)
        refusal = cli.assert_refused_at(verdict, "files")
        assert "File name too long" in refusal["detail"]
    else:
        assert result.stdout.startswith("REFUSED"), cli.describe(result)
        assert "File name too long" in result.stdout, cli.describe(result)


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_a_lock_file_nested_5000_deep_is_one_usage_error(signed_pack, keys, cli, tmp_path, as_json):
    lock = tmp_path / "deep.lock"
    lock.write_text("[bundle.pack]\nsource_repo = " + "[" * 5000 + "]" * 5000 + "\n")
    result = cli.verify(signed_pack, keys.pub, extra=("--lock", lock, *(("--json",) if as_json else ())))
    _no_traceback(result, cli)
    assert result.returncode == 2, cli.describe(result)
    assert [line for line in result.stderr.splitlines() if "nested too deeply" in line and str(lock) in line]
