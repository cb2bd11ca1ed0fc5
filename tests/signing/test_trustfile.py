"""The trust policy file (issue 12): parsing with file and line, publishers chosen by name, rotation, revocation.

Real key files, real signed bundles on disk, real provenance; the policy
file is the only input each test varies.
"""

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import minisign
import pytest

from attest.provenance import BuildFacts
from signing.backends.minisign import MinisignSigning, key_id
from signing.errors import TrustPolicyError
from signing.pins import LockFile, SourcePin
from signing.sign import attest_bundle, sign_with_minisign
from signing.trustfile import TrustFile
from signing.verify import verify_bundle, verify_locked_bundle
from signing.versions import Scheme

FACTS = BuildFacts(
    source_repository="https://github.com/acme/packs",
    source_commit="0123456789abcdef0123456789abcdef01234567",
    source_ref="refs/tags/v1.0",
    builder_id="https://github.com/actions/runner",
    build_type="https://packseal.dev/build/local/v1",
)


def write_public_key(path: Path, key: minisign.PublicKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(key) + b"\n")


@pytest.fixture
def keys(tmp_path, key_pair, other_key_pair) -> dict[str, minisign.KeyPair]:
    """Two key pairs, their public keys in `keys/old.pub` and `keys/new.pub` beside the policy."""
    pairs = {"old": key_pair, "new": other_key_pair}
    for name, pair in pairs.items():
        write_public_key(tmp_path / "keys" / f"{name}.pub", pair.public_key)
    return pairs


def policy_file(directory: Path, text: str) -> Path:
    path = directory / "trust.toml"
    path.write_text(text)
    return path


def load(directory: Path, text: str) -> TrustFile:
    return TrustFile.load(policy_file(directory, text))


def signed_pack(directory: Path, name: str, make_tree, pair: minisign.KeyPair) -> Path:
    root = make_tree(directory / name, {"README.md": b"# pack\n", "bin/run": (b"#!/bin/sh\n", 0o755)})
    sign_with_minisign(root, pair.secret_key, trusted_comment=name)
    return root


ACME = """
[[publisher]]
name = "acme"
bundles = ["acme-*"]
minisign_keys = ["keys/old.pub"]
"""


# --- parse errors name the file and the line ---------------------------------------------

PARSE_ERRORS = {
    "toml syntax": ('[[publisher]]\nname = acme\nbundles = ["acme-*"]\n', 2, "not TOML: Invalid value (column 8)"),
    "toml unclosed at the end": ('[[publisher]]\nname = "acme"\nbundles = ["acme-*"\n', 3, "not TOML: Unclosed array"),
    "unknown top-level table": (ACME + "\n[settings]\nstrict = true\n", 7, "unknown key 'settings'"),
    "unknown top-level key": ("strict = true\n" + ACME, 1, "unknown key 'strict'"),
    "unknown publisher key": (
        ACME + '\n[[publisher]]\nname = "beta"\nbundles = ["beta-*"]\nminisign_keys = ["keys/new.pub"]\nbundle = "x"\n',
        11,
        "publisher 'beta': unknown key 'bundle'",
    ),
    "bundles not a list": (
        ACME.replace('["acme-*"]', '"acme-*"'),
        4,
        "bundles must be a list of strings, not a string",
    ),
    "require_provenance not a boolean": (
        ACME + 'require_provenance = "yes"\n',
        6,
        "require_provenance must be true or false",
    ),
    "empty key list": (ACME.replace('["keys/old.pub"]', "[]"), 5, "minisign_keys is an empty list"),
    "missing key file": (ACME.replace("old.pub", "gone.pub"), 5, "keys/gone.pub"),
    "revoked id not hex": (ACME + 'revoked_keys = ["not-an-id"]\n', 6, "'not-an-id' is not a minisign key id"),
    "every key revoked": (ACME + 'revoked_keys = ["{old}"]\n', 6, "every key in minisign_keys is revoked"),
    "no signer": ('\n[[publisher]]\nname = "acme"\nbundles = ["acme-*"]\n', 3, "trusts no signer"),
    "missing name": (
        '\n\n[[publisher]]\nbundles = ["acme-*"]\nminisign_keys = ["keys/old.pub"]\n',
        3,
        "name is required",
    ),
    "name defined twice": (ACME + ACME.replace("acme-*", "other-*"), 8, "publisher 'acme' is defined twice"),
    "bundles only wildcards": (ACME.replace('"acme-*"', '"**"'), 4, "'**' is only wildcards"),
    "source_repo not a repository": (ACME + 'source_repo = "file:///srv/packs"\n', 6, "source_repo:"),
    "provenance off but source pinned": (
        ACME + 'require_provenance = false\nsource_repo = "https://github.com/acme/packs"\n',
        6,
        "require_provenance = false contradicts",
    ),
    "no publisher at all": ("# nothing here\n", 1, "at least one [[publisher]]"),
    "unknown versioning": (
        ACME + 'versioning = "calver"\n',
        6,
        "versioning is 'calver'; it must be 'pep440' or 'semver'",
    ),
    "versioning not a string": (ACME + "versioning = 2\n", 6, "versioning must be a string, not an integer"),
}

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY_ERRORS = {
    "star alone": ("*", "only wildcards"),
    "only wildcards": ("***", "only wildcards"),
    "wildcard in host": ("https://*.github.com/acme/packs/.github/workflows/release.yml@refs/tags/v1", "host"),
    "wildcard in scheme": ("*://github.com/acme/packs", "scheme or host"),
    "wildcard in email domain": ("release@*", "email's domain"),
}


@pytest.mark.parametrize(("text", "line", "message"), PARSE_ERRORS.values(), ids=list(PARSE_ERRORS))
def test_a_malformed_policy_is_one_error_naming_file_and_line(tmp_path, keys, text, line, message):
    path = policy_file(tmp_path, text.format(old=key_id(keys["old"].public_key)))
    with pytest.raises(TrustPolicyError) as raised:
        TrustFile.load(path)
    error = str(raised.value)
    assert error.startswith(f"{path}:{line}: "), error
    assert message in error
    assert "\n" not in error


BETA = '\n[[publisher]]\nname = "beta"\nbundles = ["beta-*"]\nminisign_keys = ["keys/new.pub"]\n'
LINES_AFTER_STRINGS = {
    "a header inside a multi-line string": (
        ACME + 'builder_id = """\n[[publisher]]\n"""\n' + BETA + 'bundle = "x"\n',
        14,
        "publisher 'beta': unknown key 'bundle'",
    ),
    "a key inside a multi-line literal string": (
        "\n[[publisher]]\nname = 'acme'\nbuilder_id = '''\nbundles = []\n'''\nbundles = 'acme-*'\n",
        7,
        "bundles must be a list of strings",
    ),
    "an escaped quote before the end of a multi-line string": (
        ACME + 'builder_id = """ends \\""" later\n[[publisher]]\n"""\n' + BETA + 'bundle = "x"\n',
        14,
        "publisher 'beta': unknown key 'bundle'",
    ),
    "a line separator inside a string": (
        ACME.replace('"acme"', '"ac\u2028me\u0085"') + 'require_provenance = "yes"\n',
        6,
        "require_provenance must be true or false",
    ),
    "a header after a comment": (ACME + BETA.replace("]]", "]] # beta") + 'bundle = "x"\n', 11, "unknown key 'bundle'"),
}


@pytest.mark.parametrize(("text", "line", "message"), LINES_AFTER_STRINGS.values(), ids=list(LINES_AFTER_STRINGS))
def test_the_line_named_is_the_line_whatever_a_string_before_it_holds(tmp_path, keys, text, line, message):
    """A string may hold what looks like a header or a key, or a character `str.splitlines` splits at: the error
    still names the line tomllib would count to."""
    path = policy_file(tmp_path, text)
    with pytest.raises(TrustPolicyError) as raised:
        TrustFile.load(path)
    error = str(raised.value)
    assert error.startswith(f"{path}:{line}: "), error
    assert message in error


@pytest.mark.parametrize(("identity", "message"), IDENTITY_ERRORS.values(), ids=list(IDENTITY_ERRORS))
def test_an_identity_pattern_that_trusts_too_much_is_refused_with_its_line(tmp_path, keys, identity, message):
    text = ACME + f'sigstore = [\n  {{ identity = "ok@example.com", issuer = "{ISSUER}" }},\n'
    text += f'  {{ identity = "{identity}", issuer = "{ISSUER}" }},\n]\n'
    path = policy_file(tmp_path, text)
    with pytest.raises(TrustPolicyError) as raised:
        TrustFile.load(path)
    assert str(raised.value).startswith(f"{path}:6: publisher 'acme': sigstore entry 2: identity "), raised.value
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ identity = "ok@example.com" }', "issuer is required"),
        ('{ identity = "ok@example.com", issuer = "https://*.example.com" }', "an issuer is exact"),
        (f'{{ identity = "ok@example.com", issuer = "{ISSUER}", ref = "x" }}', "unknown key 'ref'"),
        ('"ok@example.com"', "must be a table"),
    ],
)
def test_a_sigstore_entry_needs_exactly_an_identity_and_an_exact_issuer(tmp_path, keys, entry, message):
    path = policy_file(tmp_path, ACME + f"sigstore = [{entry}]\n")
    with pytest.raises(TrustPolicyError, match=message) as raised:
        TrustFile.load(path)
    assert str(raised.value).startswith(f"{path}:6: ")


def test_a_policy_that_cannot_be_read_is_one_error(tmp_path):
    with pytest.raises(TrustPolicyError, match=r"cannot read trust policy .*trust\.toml"):
        TrustFile.load(tmp_path / "trust.toml")


def test_a_valid_policy_loads_with_its_digest_and_key_ids(tmp_path, keys):
    path = policy_file(tmp_path, ACME + 'revoked_keys = ["00000000000000AB"]\n')
    trust_file = TrustFile.load(path)
    (publisher,) = trust_file.publishers
    assert trust_file.digest == f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    assert [key.key_id for key in publisher.minisign_keys] == [key_id(keys["old"].public_key)]
    assert publisher.minisign_keys[0].path == tmp_path / "keys" / "old.pub"
    assert publisher.revoked_keys == ("AB",)  # minisign 0.12's padded form is the same id
    assert publisher.versioning is Scheme.PEP440, "PEP 440 orders versions unless the publisher says otherwise"


def test_a_publisher_may_order_its_versions_as_semver(tmp_path, keys):
    (publisher,) = load(tmp_path, ACME + 'versioning = "semver"\n').publishers
    assert publisher.versioning is Scheme.SEMVER
    assert publisher.to_json()["versioning"] == "semver"


# --- which publisher a bundle name selects ------------------------------------------------

TWO_PUBLISHERS = (
    ACME + '\n[[publisher]]\nname = "beta"\nbundles = ["beta-*", "acme-tools"]\nminisign_keys = ["keys/new.pub"]\n'
)


def test_a_bundle_two_publishers_match_is_a_policy_error(tmp_path, keys, make_tree):
    trust_file = load(tmp_path, TWO_PUBLISHERS)
    pack = signed_pack(tmp_path / "dl", "acme-tools", make_tree, keys["old"])
    with pytest.raises(TrustPolicyError, match="'acme-tools' matches the bundles of publishers 'acme' and 'beta'"):
        verify_bundle(pack, trust_file)
    with pytest.raises(TrustPolicyError, match="publishers 'acme' and 'beta'"):
        trust_file.publisher_for("acme-tools")


def test_a_bundle_no_publisher_matches_is_refused(tmp_path, keys, make_tree):
    trust_file = load(tmp_path, ACME)
    pack = signed_pack(tmp_path / "dl", "zeta-pack", make_tree, keys["old"])
    verdict = verify_bundle(pack, trust_file)
    assert not verdict.verified
    assert [(check.name, check.ok) for check in verdict.checks] == [("publisher", False)]
    assert "no publisher's bundles match 'zeta-pack'" in verdict.refusal.detail
    assert verdict.publisher is None


def test_the_publisher_chosen_by_name_is_the_policy(tmp_path, keys, make_tree):
    trust_file = load(tmp_path, TWO_PUBLISHERS)
    acme = signed_pack(tmp_path / "dl", "acme-pack", make_tree, keys["old"])
    beta_signed_by_acme = signed_pack(tmp_path / "dl", "beta-pack", make_tree, keys["old"])

    verdict = verify_bundle(acme, trust_file)
    assert verdict.verified, verdict.refusal
    assert verdict.publisher == "acme"
    assert verdict.to_json()["publisher"] == "acme"
    assert [check.name for check in verdict.checks] == [
        "publisher",
        "layout",
        "signature",
        "statement",
        "bundle-name",
        "files",
    ]

    refused = verify_bundle(beta_signed_by_acme, trust_file)
    assert refused.refusal.name == "signature"
    assert "not trusted" in refused.refusal.detail


def test_a_single_file_is_matched_by_its_file_name(tmp_path, keys):
    trust_file = load(tmp_path, ACME)
    path = tmp_path / "acme-tool-1.0.tar.gz"
    path.write_bytes(b"release")
    sign_with_minisign(path, keys["old"].secret_key)
    verdict = verify_bundle(path, trust_file)
    assert verdict.verified, verdict.refusal
    assert [check.name for check in verdict.checks] == ["publisher", "signature"]


# --- name substitution --------------------------------------------------------------------

SHARED_KEY = """
[[publisher]]
name = "acme"
bundles = ["acme-*"]
minisign_keys = ["keys/old.pub"]
require_provenance = true

[[publisher]]
name = "lab"
bundles = ["lab-*"]
minisign_keys = ["keys/old.pub"]
"""


def test_a_bundle_signed_under_one_name_is_refused_under_a_name_another_publisher_matches(tmp_path, keys, make_tree):
    """Signed by acme's key as `acme-auth` (where provenance is required); renamed `lab-auth`, whose publisher
    trusts the same key without provenance. Without the name check it verifies and installs unattested."""
    trust_file = load(tmp_path, SHARED_KEY)
    signed = signed_pack(tmp_path / "dl", "acme-auth", make_tree, keys["old"])
    renamed = signed.rename(signed.with_name("lab-auth"))

    verdict = verify_bundle(renamed, trust_file)

    assert not verdict.verified
    assert verdict.publisher == "lab"
    assert verdict.refusal.name == "bundle-name"
    assert (
        "the signed manifest names the bundle 'acme-auth', but it is verified as 'lab-auth'" in verdict.refusal.detail
    )
    assert verdict.refusal.data == {"expected": "lab-auth", "actual": "acme-auth"}


def test_a_bundle_renamed_within_one_publisher_is_refused(tmp_path, keys, make_tree):
    trust_file = load(tmp_path, ACME)
    signed = signed_pack(tmp_path / "dl", "acme-viewer", make_tree, keys["old"])
    copy = Path(shutil.copytree(signed, tmp_path / "plugins" / "acme-auth", symlinks=True))
    assert verify_bundle(signed, trust_file).verified
    assert verify_bundle(copy, trust_file).refusal.name == "bundle-name"


ACME_AND_LAB = (
    ACME
    + """
[[publisher]]
name = "lab"
bundles = ["lab-*"]
minisign_keys = ["keys/new.pub"]
"""
)


def test_a_link_is_verified_by_its_own_name_not_the_name_of_what_it_links_to(tmp_path, keys, make_tree):
    """`plugins/acme-auth` is a link to lab's validly signed `lab-tool`: chosen by the target's name, lab's
    key verified it and a loader of `acme-auth` ran lab's code; a lock pinned `acme-auth` by the same rule."""
    trust_file = load(tmp_path, ACME_AND_LAB)
    labs = signed_pack(tmp_path / "dl", "lab-tool", make_tree, keys["new"])
    acme = signed_pack(tmp_path / "dl", "acme-viewer", make_tree, keys["old"])
    (tmp_path / "plugins").mkdir()
    link = tmp_path / "plugins" / "acme-auth"
    link.symlink_to(labs)
    assert verify_bundle(labs, trust_file).verified

    verdict = verify_bundle(link, trust_file)

    assert not verdict.verified
    assert verdict.publisher == "acme"
    assert verdict.refusal.name == "signature"
    link.unlink()
    link.symlink_to(acme)
    assert verify_bundle(link, trust_file).refusal.name == "bundle-name"
    link.unlink()
    link.symlink_to(labs)
    lock = LockFile(tmp_path / "packs.lock", {"lab-tool": SourcePin(FACTS.source_repository, FACTS.source_commit)})
    locked = verify_locked_bundle(link, trust_file, lock)
    assert locked.refusal.name == "lock", locked.refusal
    assert "no [bundle.acme-auth] entry" in locked.refusal.detail


def test_a_bundle_verified_as_dot_is_known_by_its_directory_name(tmp_path, keys, make_tree, monkeypatch):
    trust_file = load(tmp_path, ACME_AND_LAB)
    labs = signed_pack(tmp_path / "dl", "lab-tool", make_tree, keys["new"])
    monkeypatch.chdir(labs / "bin")
    verdict = verify_bundle("..", trust_file)
    assert verdict.verified, verdict.refusal
    assert verdict.publisher == "lab"
    monkeypatch.chdir(labs)
    assert verify_bundle(".", trust_file).publisher == "lab"


# --- rotation and revocation are edits of the one file -------------------------------------

BOTH_KEYS = ACME.replace('["keys/old.pub"]', '["keys/old.pub", "keys/new.pub"]')


def test_rotation_old_and_new_key_both_verify_then_the_removed_key_is_refused(tmp_path, keys, make_tree):
    by_old = signed_pack(tmp_path / "a", "acme-pack", make_tree, keys["old"])
    by_new = signed_pack(tmp_path / "b", "acme-pack", make_tree, keys["new"])

    during = load(tmp_path, BOTH_KEYS)
    assert verify_bundle(by_old, during).verified
    assert verify_bundle(by_new, during).verified

    after = load(tmp_path, ACME.replace("old.pub", "new.pub"))
    assert verify_bundle(by_new, after).verified
    refused = verify_bundle(by_old, after)
    assert refused.refusal.name == "signature"
    assert f"signed by key {key_id(keys['old'].public_key)}, which is not trusted" in refused.refusal.detail


def test_a_revoked_key_is_refused_even_while_listed(tmp_path, keys, make_tree):
    old_id = key_id(keys["old"].public_key)
    by_old = signed_pack(tmp_path / "a", "acme-pack", make_tree, keys["old"])
    by_new = signed_pack(tmp_path / "b", "acme-pack", make_tree, keys["new"])
    trust_file = load(tmp_path, BOTH_KEYS + f'revoked_keys = ["{old_id}"]\n')

    refused = verify_bundle(by_old, trust_file)

    assert refused.refusal.name == "signature"
    assert refused.refusal.detail.endswith(f"signed by key {old_id}, which the trust policy revokes")
    assert verify_bundle(by_new, trust_file).verified


# --- provenance requirements of a publisher -----------------------------------------------


@pytest.fixture
def attested(tmp_path, keys, make_tree) -> Path:
    pack = signed_pack(tmp_path / "dl", "acme-pack", make_tree, keys["old"])
    attest_bundle(pack, FACTS, MinisignSigning(keys["old"].secret_key), started_on=datetime.now(UTC))
    return pack


REQUIREMENTS = {
    "require_provenance": ("require_provenance = true\n", None, None),
    "source_repo": (f'source_repo = "{FACTS.source_repository}.git"\n', None, None),
    "builder_id": (f'builder_id = "{FACTS.builder_id}"\n', None, None),
}
REFUSALS = {
    "source_repo": (
        'source_repo = "https://github.com/acme/other"\n',
        "source-repository",
        "pinned 'github.com/acme/other'",
    ),
    "builder_id": ('builder_id = "https://ci.example/other"\n', "builder", "pinned 'https://ci.example/other'"),
}


@pytest.mark.parametrize("line", [value[0] for value in REQUIREMENTS.values()], ids=list(REQUIREMENTS))
def test_a_publisher_requirement_refuses_a_bundle_without_provenance(tmp_path, keys, make_tree, line):
    pack = signed_pack(tmp_path / "dl", "acme-pack", make_tree, keys["old"])
    verdict = verify_bundle(pack, load(tmp_path, ACME + line))
    assert verdict.refusal.name == "provenance"
    assert "the trust policy requires signed provenance" in verdict.refusal.detail


@pytest.mark.parametrize("line", [value[0] for value in REQUIREMENTS.values()], ids=list(REQUIREMENTS))
def test_a_publisher_requirement_met_by_signed_provenance_verifies(tmp_path, attested, line):
    verdict = verify_bundle(attested, load(tmp_path, ACME + line))
    assert verdict.verified, verdict.refusal
    assert verdict.provenance is not None and verdict.provenance.source_commit == FACTS.source_commit
    assert {"provenance", "provenance-subject"} <= {check.name for check in verdict.checks}


@pytest.mark.parametrize(("line", "check", "detail"), REFUSALS.values(), ids=list(REFUSALS))
def test_a_publisher_requirement_refuses_other_provenance(tmp_path, attested, line, check, detail):
    verdict = verify_bundle(attested, load(tmp_path, ACME + line))
    assert verdict.refusal.name == check
    assert detail in verdict.refusal.detail


def test_a_lock_pin_adds_to_the_publisher_requirements(tmp_path, attested):
    trust_file = load(tmp_path, ACME + f'source_repo = "{FACTS.source_repository}"\n')
    other_commit = "f" * 40
    lock = LockFile(tmp_path / "packs.lock", {"acme-pack": SourcePin(FACTS.source_repository, other_commit)})
    verdict = verify_locked_bundle(attested, trust_file, lock)
    assert verdict.refusal.name == "source-commit"
    assert verdict.publisher == "acme"
    names = [check.name for check in verdict.checks]
    assert names.count("source-repository") == 1  # the publisher's and the lock's agree: one check
    assert names[-2:] == ["source-repository", "source-commit"]
