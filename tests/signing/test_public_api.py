"""The public API: what a Python caller needs is exported by `signing`, and paths may be `str` or `os.PathLike`."""

import os
import subprocess
import sys
from pathlib import Path

import signing

TREE = {"README.md": b"# pack\n", "bin/run": (b"#!/bin/sh\n", 0o755)}


class _PathLike(os.PathLike[str]):
    """A path that is neither `str` nor `Path`, as another library's path type would be."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path


def test_sign_and_verify_with_keys_read_through_the_api_and_paths_of_any_kind(tmp_path, make_tree):
    """Paths given as `str` and as a foreign `os.PathLike`; one encrypted key (unlocking it takes seconds)."""
    root = make_tree(tmp_path / "pack", TREE)
    keys = signing.generate_key_pair(str(tmp_path / "keys"), "release", "password")
    secret_key = signing.read_secret_key(_PathLike(keys.secret_key))
    signing.unlock(secret_key, "password", path=str(keys.secret_key))

    signed = signing.sign_with_minisign(_PathLike(root), secret_key, trusted_comment="pack")
    policy = signing.TrustPolicy((signing.MinisignKeyring.from_files([str(keys.public_key)]),))
    verdict = signing.verify_bundle(str(root), policy)

    assert verdict.verified, verdict.refusal
    assert verdict.bundle == root
    assert signed.digest == verdict.digest == f"sha256:{signing.directory_manifest(str(root)).digest}"
    assert signing.MinisignKeyring([signing.read_public_key(_PathLike(keys.public_key))]).key_ids == {keys.key_id}
    assert isinstance(signing.file_digest(_PathLike(root / "README.md")), signing.FileDigest)


def test_a_single_file_and_a_lock_file_by_str_path(tmp_path, key_pair, policy):
    release = tmp_path / "tool.bin"
    release.write_bytes(b"tool")
    signing.sign_with_minisign(str(release), key_pair.secret_key)
    lock = tmp_path / "bundles.lock"
    lock.write_text(
        '[bundle.other]\nsource_repo = "https://github.com/acme/other"\n'
        f'source_commit = "{"a" * 40}"\ndigest = "sha256:{"b" * 64}"\n'
    )

    assert signing.verify_bundle(
        str(release), policy, signatures=signing.SignaturePaths(minisign=str(release) + ".minisig")
    ).verified
    refused = signing.verify_locked_bundle(str(release), policy, signing.LockFile.read(str(lock)))
    assert refused.refusal is not None and refused.refusal.name == "lock"


def test_sigstore_verification_is_public_and_takes_a_str_trusted_root(tmp_path):
    """The verifier, its identity policy and its instance are exported, and load `sigstore` only when used."""
    code = (
        "import sys, signing; signing.verify_bundle; assert 'sigstore' not in sys.modules; "
        "instance = signing.SigstoreInstance(trusted_root=sys.argv[1]); "
        "identity = signing.SigstoreIdentityPolicy(identity='a@example.com', issuer='https://issuer.example'); "
        "signing.SigstoreVerifier(instance, identity)"
    )
    missing = str(tmp_path / "absent-root.json")
    result = subprocess.run([sys.executable, "-c", code, missing], capture_output=True, text=True, check=False)
    assert "TrustPolicyError: cannot read trusted root: " + missing in result.stderr.splitlines()[-1]


def test_a_signed_version_through_the_api(tmp_path, make_tree, key_pair, policy):
    import attest

    root = make_tree(tmp_path / "pack", TREE)
    signing.sign_with_minisign(str(root), key_pair.secret_key, version="1.2.0")

    assert signing.verify_bundle(root, policy).version == "1.2.0"
    statement, _ = attest.manifest_from_statement((root / ".packseal/manifest.json").read_bytes(), what="manifest")
    assert attest.manifest_version(statement) == "1.2.0"


def test_install_is_public_and_lands_a_bundle(tmp_path, make_tree, key_pair, policy, monkeypatch):
    """`signing.install` stays the function once its modules are imported (a submodule `install` replaced it)."""
    import signing.cli.install
    import signing.installer

    monkeypatch.setenv("PACKSEAL_HOME", str(tmp_path / "home"))
    assert callable(signing.install)
    root = make_tree(tmp_path / "src" / "pack", TREE)
    signing.sign_with_minisign(root, key_pair.secret_key)
    (tmp_path / "plugins").mkdir()

    installed = signing.install(str(root), _PathLike(tmp_path / "plugins"), policy, limits=signing.ArchiveLimits())

    assert isinstance(installed, signing.Installed) and installed.path == tmp_path / "plugins" / "pack"
    assert isinstance(signing.read_installed(tmp_path / "plugins", "pack"), signing.InstallRecord)
    assert issubclass(signing.InstallRefused, signing.PacksealError)
    assert issubclass(signing.ArchiveError, signing.BundleError)


def test_remote_sources_are_public_and_read_from_strings(tmp_path):
    """A caller names a Git commit or a release URL as `install` reads it, without loading an HTTP or Git client."""
    code = (
        "import sys, signing\n"
        f"git = signing.parse_source('git+https://h/acme/pack@{'a' * 40}#subdirectory=p', ref='main')\n"
        "assert isinstance(git, signing.GitSource) and (git.name, git.ref) == ('p', 'main')\n"
        "assert isinstance(signing.parse_source('https://h/r/pack-1.0.tgz'), signing.ReleaseSource)\n"
        "assert signing.RemoteOptions(max_size=1).max_size == 1 and signing.Origin('x').kind == 'path'\n"
        "clients = {'requests', 'dulwich', 'attest.git', 'signing.sources.git', 'signing.sources.url'}\n"
        "loaded = clients & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_trust_policy_file_and_the_policy_checks_are_public(tmp_path, key_pair, make_tree):
    """A policy file loads and verifies through `signing` alone; the source checks compose as `AllOf`."""
    (tmp_path / "release.pub").write_bytes(bytes(key_pair.public_key) + b"\n")
    policy = tmp_path / "trust.toml"
    policy.write_text('[[publisher]]\nname = "acme"\nbundles = ["pack"]\nminisign_keys = ["release.pub"]\n')
    root = make_tree(tmp_path / "pack", TREE)
    signing.sign_with_minisign(root, key_pair.secret_key)

    trust_file = signing.TrustFile.load(str(policy))
    verdict = signing.verify_bundle(str(root), trust_file)

    assert verdict.verified and verdict.publisher == "acme"
    assert isinstance(trust_file.publisher_for("pack"), signing.Publisher)
    source = signing.AllOf((signing.BuilderIs("b"), signing.RepositoryIs("https://github.com/acme/pack")))
    assert [check.name for check in source.checks] == [signing.CheckName.SOURCE_REPOSITORY, signing.CheckName.BUILDER]


def test_a_caller_s_own_progress_is_told_of_every_file_and_byte_hashed(tmp_path, make_tree, key_pair, policy):
    """`Progress` is a protocol a caller implements (a GUI, a log); signing and verifying both report to it."""

    class Counted:
        def __init__(self) -> None:
            self.files = self.bytes = 0

        def advance(self, files: int, bytes: int) -> None:
            self.files += files
            self.bytes += bytes

        def note(self, message: str) -> None:
            pass

    root = make_tree(tmp_path / "pack", TREE)
    signed, verified = Counted(), Counted()
    signing.sign_bundle(root, signing.MinisignSigning(key_pair.secret_key), progress=signed)
    verdict = signing.verify_bundle(root, policy, progress=verified)
    reporter: signing.Progress = verified

    assert verdict.verified, verdict.refusal
    assert (signed.files, signed.bytes) == (verified.files, verified.bytes) == (2, len(b"# pack\n#!/bin/sh\n"))
    assert reporter is verified
    with open(tmp_path / "log", "w") as log, signing.progress_for_terminal(log) as shown:
        shown.note("deriving...")
        shown.advance(1, 1)
    assert (tmp_path / "log").read_text() == ""  # not a terminal: nothing shown
