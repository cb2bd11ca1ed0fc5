"""Where a bundle's statements and signatures live, as ARCHITECTURE.md fixes it.

A directory keeps them in `.packseal/`, which is not part of its manifest;
so nothing may hide there: any name not listed here, anything that is not
a regular file, and any file that is not well formed for its role (checked
by `signing.formats` when no other check verifies it) is refused at
verification. A single file keeps them beside it, named as the stock tools
name them (`X.minisig`, `X.sigstore.json`), so those tools verify it
without packseal.

Signature names follow one rule per system: minisign appends `.minisig` to
what it signs; Sigstore appends `.sigstore.json` to a file, and replaces
the `.json` of a packseal Statement (`manifest.json` → `manifest.sigstore.json`).

Signing and verification read these rules from here alone, so `sign` refuses
exactly what `verify-bundle` would refuse, before writing anything.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from attest.errors import os_error_reason
from attest.manifest import SIGNATURE_DIR
from signing.errors import BundleError, NotABundleError
from signing.files import PathLike
from signing.roles import Role

MANIFEST_NAME = "manifest.json"
PROVENANCE_NAME = "provenance.json"
_MINISIGN_SUFFIX = ".minisig"
_SIGSTORE_SUFFIX = ".sigstore.json"


def minisign_signature(signed: Path) -> Path:
    """Where the minisign signature of a file or Statement lives."""
    return signed.with_name(signed.name + _MINISIGN_SUFFIX)


def sigstore_bundle(signed: Path, *, statement: bool) -> Path:
    """Where the Sigstore bundle of a file, or of a packseal Statement, lives."""
    name = signed.name.removesuffix(".json") if statement else signed.name
    return signed.with_name(name + _SIGSTORE_SUFFIX)


def statement_signatures(statement: Path) -> set[Path]:
    """Every signature file over a Statement, one per signing system."""
    return {minisign_signature(statement), sigstore_bundle(statement, statement=True)}


def bundle_name(path: PathLike) -> str:
    """The name a bundle is verified, locked and installed as: the last component of the path as given.

    A link is known by its own name, never by the name of what it links to:
    a policy file chooses the publisher, and a lock file the pin, by this
    name, and a loader of `plugins/acme-auth` runs whatever that link points
    at, so a link `acme-auth` to publisher B's bundle `lab-tool` must be
    verified as `acme-auth`, by publisher A's signers. Only `.`, `..` and a
    path with no name stand for a directory they do not name; they are
    resolved to it.
    """
    given = Path(path)
    return given.resolve().name if given.name in ("", ".", "..") else given.name


def resolve_bundle(path: Path) -> Path:
    """The resolved path of a bundle; refuse a path that does not exist or lies inside a `.packseal/`.

    `.packseal/` holds signatures, never a bundle: verifying
    `PACK/.packseal/manifest.json` as a single file would say VERIFIED and
    nothing about PACK's files. The path as given and the path resolved are
    both checked, at any depth and in any letter case, so neither a link into
    `.packseal/` nor a `.packseal` that is itself a link gets past. Signing
    and verification share this one rule.
    """
    if not path.exists():
        raise NotABundleError(f"{path}: no such file or directory")
    resolved = path.resolve()
    if any(part.casefold() == SIGNATURE_DIR for part in (*path.absolute().parts, *resolved.parts)):
        raise NotABundleError(f"{path}: inside {SIGNATURE_DIR}/, which holds signatures, not bundles")
    return resolved


KNOWN_SIGNATURE_DIR_FILES = frozenset(
    name
    for statement in (Path(MANIFEST_NAME), Path(PROVENANCE_NAME))
    for name in (
        statement.name,
        minisign_signature(statement).name,
        sigstore_bundle(statement, statement=True).name,
    )
)


@dataclass(frozen=True)
class SignatureDirFile:
    """What a file of `.packseal/` is: a Statement (`system` None), or one system's signature over it."""

    role: Role
    system: str | None
    """The system of a signature, "minisign" or "sigstore"; None for the Statement itself."""


SIGNATURE_DIR_FILES = {
    name: SignatureDirFile(role, system)
    for statement, role in ((Path(MANIFEST_NAME), Role.BUNDLE_MANIFEST), (Path(PROVENANCE_NAME), Role.PROVENANCE))
    for name, system in (
        (statement.name, None),
        (minisign_signature(statement).name, "minisign"),
        (sigstore_bundle(statement, statement=True).name, "sigstore"),
    )
}
"""Each file `.packseal/` may hold, by name; `signing.formats` checks each one present is what it says."""


@dataclass(frozen=True)
class DirectoryLayout:
    """The Statement files of a directory bundle: in its `.packseal/`, or in a directory `apart` from it.

    `apart` (`sign --output-dir`, `verify-bundle --signatures-dir`) holds
    exactly what `.packseal/` would, under the same rules, so a read-only
    bundle can be signed. It must lie outside the bundle (there it would
    change what is signed), and the bundle must then hold no `.packseal/`:
    its files would be skipped by the manifest and checked by nothing.
    """

    root: Path
    apart: Path | None = None

    @property
    def signature_dir(self) -> Path:
        return self.root / SIGNATURE_DIR if self.apart is None else self.apart

    @property
    def shown(self) -> str:
        """The signature directory as messages name it: `.packseal`, or the directory apart."""
        return SIGNATURE_DIR if self.apart is None else str(self.apart)

    @property
    def manifest(self) -> Path:
        return self.signature_dir / MANIFEST_NAME

    @property
    def provenance(self) -> Path:
        return self.signature_dir / PROVENANCE_NAME

    def unexpected_entries(self) -> list[str]:
        """What the signature directory holds beyond the known regular files, or around it, as one line each."""
        problems = self._misplaced_apart()
        if problems:
            return problems
        shown = self.shown
        try:
            mode = self.signature_dir.lstat().st_mode
            if stat.S_ISLNK(mode):
                return [f"{shown} is not a directory: it is a symlink"]
            if not stat.S_ISDIR(mode):
                return [f"{shown} is not a directory"]
            entries = sorted(os.scandir(self.signature_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return [f"{shown}/ is missing: the bundle is not signed"]
        except OSError as err:
            return [f"{shown}/ cannot be read: {os_error_reason(err)}"]
        for entry in entries:
            where = f"{shown}/{entry.name}"
            if entry.name not in KNOWN_SIGNATURE_DIR_FILES:
                problems.append(f"unexpected entry: {where}")
            elif not entry.is_file(follow_symlinks=False):
                problems.append(f"not a regular file: {where}")
        return problems

    def _misplaced_apart(self) -> list[str]:
        """With signatures apart: a directory inside the bundle, or a `.packseal/` the bundle still holds."""
        if self.apart is None:
            return []
        if self.apart.resolve().is_relative_to(self.root.resolve()):
            return [f"{self.apart} lies inside the bundle {self.root}; signatures stored apart go outside it"]
        if os.path.lexists(self.root / SIGNATURE_DIR):
            return [
                f"{SIGNATURE_DIR} in {self.root}: the signatures are read from {self.apart}, so it would go unverified"
            ]
        return []

    def check_signable(self) -> None:
        """Refuse to sign into a signature directory that verification would refuse, before anything is written.

        The rule is `unexpected_entries`, the one verification applies; only
        a missing signature directory is fine, since signing creates it. What is found
        is named for the user to remove: packseal never deletes a file it
        cannot tell it wrote (a `.tmp` left by an interrupted sign included).
        """
        problems = self._misplaced_apart()
        if not problems and os.path.lexists(self.signature_dir):
            problems = self.unexpected_entries()
        if problems:
            pronoun = "it" if len(problems) == 1 else "them"
            raise BundleError(f"{self.root}: {'; '.join(problems)}; remove {pronoun}, then try again")


@dataclass(frozen=True)
class FileLayout:
    """The signature and provenance files of a single-file bundle: beside it, or in a `directory` apart.

    Named the same in either place (`X.minisig`, ...), so the stock tools
    verify them with the signature path given (`minisign -x`, `--bundle`).
    """

    path: Path
    directory: Path | None = None

    def sidecar(self, beside: Path) -> Path:
        """Where a file packseal would write beside the bundle (`beside`) lives in this layout."""
        return beside if self.directory is None else self.directory / beside.name

    @property
    def minisig(self) -> Path:
        return self.sidecar(minisign_signature(self.path))

    @property
    def sigstore(self) -> Path:
        return self.sidecar(sigstore_bundle(self.path, statement=False))

    @property
    def provenance(self) -> Path:
        return self.sidecar(self.path.with_name(self.path.name + "." + PROVENANCE_NAME))

    def signature_files(self) -> set[Path]:
        """Every file packseal may write for this file: signatures, provenance and its signatures."""
        return {self.minisig, self.sigstore, self.provenance} | statement_signatures(self.provenance)
