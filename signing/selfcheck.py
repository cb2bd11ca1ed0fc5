"""Startup self-check: refuse to run when the running program is not the released one.

A daemon that spawns commands must not start if its code was swapped for a
trojan with the same command line. At release or install, `record_self`
writes a canonical-JSON record (`signing.selfrecord`) of what the program
is, signed with minisign in the `self-record` role; at startup, `check_self`
measures what the process actually runs and compares:

- a compiled program: the image the kernel executes (`/proc/self/exe`,
  which stays the started file even after its path was replaced);
- a Python program: that image is the interpreter, so the record also
  covers the `libpython` it maps, the entry script and every file of the
  program's distributions, bytecode included (`signing.selfcheck_python`).

It fails closed: a record is trusted only when its signature verifies
under the key the caller names; an unsigned record is read only when the
caller opts in with `allow_unsigned=True`. A record of an executable alone
is refused inside a Python interpreter, where it would prove nothing about
the code. Every refusal raises `SelfCheckError` with one line: a daemon
adds one import and one call. This runs on every start, so it imports only
what the check needs (`cryptography`'s Ed25519 for the signature, `importlib.metadata`
for distributions), never `sigstore`, protobuf or click.
"""

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attest.canonical import MAX_DOCUMENT_BYTES, canonical_json, parse_canonical_json
from signing.digest import FileDigest, file_digest
from signing.documents import write_document
from signing.errors import KeyFileError, PacksealError, SelfCheckError, TrustPolicyError
from signing.files import PathLike, read_regular_file
from signing.layout import minisign_signature
from signing.roles import Role, RoleClaim
from signing.schemas import JSON_SCHEMA_VERSION
from signing.selfrecord import NamedFile, PythonRecord, SelfRecord

if TYPE_CHECKING:
    import minisign

    from signing.backends.minisign import MinisignKeyring, MinisignSigner

RUNNING_IMAGE = Path("/proc/self/exe")
"""The file the kernel executes for this process, even once its path was replaced or removed."""


@dataclass(frozen=True)
class SelfCheckResult:
    """A passed self-check: the executable hashed, the record it matched, and who signed that record.

    `signer` is None only when the caller allowed an unsigned record.
    """

    executable: str
    record: SelfRecord
    signer: "MinisignSigner | None"

    def to_json(self) -> dict[str, Any]:
        """The result as `self check --json` prints it: the field names of a `Verdict` where they mean the same.

        `verified`, `digest` (`sha256:<hex>` of the executable) and `signers`
        (empty for an unsigned record) as in `signing.verify.Verdict.to_json`.
        """
        python = self.record.python
        value: dict[str, Any] = {
            "schema": JSON_SCHEMA_VERSION,
            "verified": True,
            "executable": self.executable,
            "name": self.record.executable.name,
            "digest": f"sha256:{self.record.executable.digest.sha256}",
            "size": self.record.executable.digest.size,
            "recorded_by": f"packseal {self.record.packseal_version}",
            "signers": [] if self.signer is None else [self.signer.to_json()],
            "files": self.record.files,
            "bytes": self.record.size,
        }
        if python is not None:
            value["python"] = {
                "libraries": [_named_json(library) for library in python.libraries],
                "script": None if python.script is None else _named_json(python.script),
                "distributions": [
                    {"name": d.name, "version": d.version, "files": len(d.files), "bytes": d.size}
                    for d in python.distributions
                ],
            }
        return value


def describe(record: SelfRecord) -> list[str]:
    """What a record covers, one line per part, so a user can see it is not empty."""
    python = record.python
    if python is None:
        return [f"executable {_named(record.executable)}", f"covers 1 file, {record.size} bytes"]
    lines = [f"interpreter {_named(record.executable)}"]
    lines += [f"library {_named(library)}" for library in python.libraries] or [
        "library: none (a statically linked interpreter)"
    ]
    if python.script is not None:
        lines.append(f"script {_named(python.script)}")
    lines += [f"distribution {d.name} {d.version}: {len(d.files)} files, {d.size} bytes" for d in python.distributions]
    lines.append(f"covers {record.files} files, {record.size} bytes")
    return lines


def signature_path(record: PathLike) -> Path:
    """Where a record's minisign signature lives: beside it, as `minisign -Vm RECORD` expects."""
    return minisign_signature(Path(record))


def running_image() -> Path:
    """The executable of this process: `/proc/self/exe` where it exists, else `sys.executable`."""
    if RUNNING_IMAGE.exists():
        return RUNNING_IMAGE
    if not sys.executable:
        raise SelfCheckError("cannot tell which executable is running: no /proc/self/exe and no sys.executable")
    return Path(sys.executable)


def record_self(
    binary: PathLike | None,
    out: PathLike,
    *,
    secret_key: "minisign.SecretKey | None" = None,
    python: bool = False,
    distributions: Sequence[str] = (),
    script: PathLike | None = None,
) -> SelfRecord:
    """Write the record of a program to `out`, and `out.minisig` when a secret key is given.

    Without `python`, the record is of `binary` alone (a compiled program).
    With `python`, it is of a Python program: the interpreter (`binary`, or
    the one running this call), the `libpython` it maps, `script`, and the
    files of each of `distributions` as this interpreter imports them; at
    least one distribution or a script is required, since an interpreter
    alone runs any code.

    Both files are written together or not at all. Without a key, an
    existing `out.minisig` is refused rather than left beside a record it
    does not cover. Raises `ValueError` for a combination that records
    nothing of the program.
    """
    from importlib.metadata import version

    if not python and (distributions or script is not None):
        raise ValueError("distributions and a script are recorded only for a Python program (python=True)")
    record = SelfRecord(
        executable=_recorded_executable(binary, python=python),
        packseal_version=version("packseal"),
        python=_recorded_python(binary, distributions, script) if python else None,
    )
    write_document(
        out,
        canonical_json(record.to_json()),
        Role.SELF_RECORD,
        secret_key=secret_key,
        description=record.executable.name,
        subject=record.executable.digest.sha256,
    )
    return record


def check_self(
    record_path: PathLike,
    *,
    public_key: "PathLike | MinisignKeyring | None" = None,
    allow_unsigned: bool = False,
    binary: PathLike | None = None,
    script: PathLike | None = None,
) -> SelfCheckResult:
    """Check that this process (or, for a compiled program, `binary`) is what `record_path` describes.

    The record must carry a valid `self-record` signature by `public_key`
    (a minisign public key file or a `MinisignKeyring`), stating the
    recorded executable's digest; only `allow_unsigned=True` reads it
    without one. A Python program's record is checked against this process
    only: its `/proc/self/exe`, mapped `libpython`, distributions, and its
    entry (`script`, else `__main__`'s file), which must be the recorded
    script or a file of a recorded distribution (`python -m pkg`, a
    console script), so a record of another program is refused.

    Raises `SelfCheckError` with a one-line reason on every refusal: a
    daemon calls this and exits on error. Raises `TrustPolicyError` when
    called with neither a key nor `allow_unsigned` (or both), and
    `KeyFileError` when the key cannot be read: the caller asked wrongly.
    """
    if (public_key is None) != allow_unsigned:
        raise TrustPolicyError(
            "name the minisign public key the record must be signed by; only allow_unsigned=True "
            "(--allow-unsigned) trusts an unsigned record"
            if public_key is None
            else "give a public key or allow an unsigned record, not both"
        )
    try:
        return _check(Path(record_path), public_key, binary, script)
    except (SelfCheckError, KeyFileError, TrustPolicyError):
        raise
    except PacksealError as err:
        raise SelfCheckError(str(err)) from None


def _check(
    record_path: Path,
    public_key: "PathLike | MinisignKeyring | None",
    binary: PathLike | None,
    script: PathLike | None,
) -> SelfCheckResult:
    """Verify the record's signature before parsing it, then measure and compare."""
    data = read_regular_file(record_path, MAX_DOCUMENT_BYTES, follow_symlinks=True)
    signer = None if public_key is None else _verify_signature(data, record_path, public_key)
    record = SelfRecord.from_json(parse_canonical_json(data, what=str(record_path)), what=str(record_path))
    if signer is not None and signer.claim is not None:
        claim = RoleClaim(Role.SELF_RECORD, record.executable.digest.sha256)
        signer.claim.require(claim, where=str(signature_path(record_path)))
    if record.python is None:
        image = _compiled_program_image(record_path, record, binary)
    elif binary is not None:
        raise SelfCheckError(
            f"{record_path}: records a Python program, which is checked in the process that runs it "
            "(check_self() in the program, or `packseal self check --python`), not against a file"
        )
    else:
        image = RUNNING_IMAGE
    _require_same(image, file_digest(image, follow_symlinks=True), record.executable)
    if record.python is not None:
        _check_python(record.python, script)
    return SelfCheckResult(executable=str(image), record=record, signer=signer)


def _compiled_program_image(record_path: Path, record: SelfRecord, binary: PathLike | None) -> Path:
    """The file to compare with a record of an executable alone; refused inside a plain interpreter."""
    if binary is not None:
        return Path(binary)
    if not getattr(sys, "frozen", False):
        raise SelfCheckError(
            f"{record_path}: records only the executable {record.executable.name}, but this process is a "
            "Python interpreter, whose code the record does not cover; record the program with "
            "`packseal self record --python --distribution NAME`"
        )
    return running_image()


def _check_python(expected: PythonRecord, script: PathLike | None) -> None:
    # Imported for Python programs only: it runs subprocesses, which checking a compiled binary never needs.
    from signing import selfcheck_python

    libraries = {library.name: library for library in selfcheck_python.running_libraries()}
    recorded = {library.name for library in expected.libraries}
    unrecorded = sorted(libraries.keys() - recorded)
    if unrecorded:
        raise SelfCheckError(
            f"this process maps {', '.join(unrecorded)}, which the record does not cover (recorded: "
            f"{', '.join(sorted(recorded)) or 'none, a statically linked interpreter'})"
        )
    for library in expected.libraries:
        if library.name not in libraries:
            raise SelfCheckError(f"this process does not map the recorded {library.name}")
        _require_same(Path(library.name), libraries[library.name].digest, library)
    entry = Path(script) if script is not None else selfcheck_python.running_script()
    if entry is None:
        raise SelfCheckError(
            "this process runs no script file (python -c?), so the record cannot show it covers the program's entry"
        )
    if expected.script is not None:
        _require_same(entry, file_digest(entry, follow_symlinks=True), expected.script)
    elif not any(selfcheck_python.is_distribution_file(entry, d) for d in expected.distributions):
        raise SelfCheckError(
            f"{entry}: the program's entry is neither the recorded script nor a file of the recorded "
            f"distributions ({', '.join(d.name for d in expected.distributions)}); a record of another program?"
        )
    for distribution in expected.distributions:
        selfcheck_python.check_distribution(distribution)


def _require_same(path: Path, actual: FileDigest, expected: NamedFile) -> None:
    if actual != expected.digest:
        raise SelfCheckError(
            f"{path}: sha256:{actual.sha256} ({actual.size} bytes) is not the recorded "
            f"sha256:{expected.digest.sha256} ({expected.digest.size} bytes) of {expected.name}"
        )


def _verify_signature(data: bytes, record_path: Path, public_key: "PathLike | MinisignKeyring") -> "MinisignSigner":
    from signing.backends.minisign import MinisignKeyring

    if not isinstance(public_key, MinisignKeyring):
        public_key = MinisignKeyring.from_files([Path(public_key)])
    return public_key.verify_statement(data, signature_path(record_path), Role.SELF_RECORD)


def _recorded_executable(binary: PathLike | None, *, python: bool) -> NamedFile:
    if binary is not None:
        return _recorded_file(binary)
    if not python:
        raise ValueError("name the binary to record, or record the running interpreter with python=True")
    return NamedFile(Path(os.readlink(RUNNING_IMAGE)).name, file_digest(RUNNING_IMAGE, follow_symlinks=True))


def _recorded_python(binary: PathLike | None, distributions: Sequence[str], script: PathLike | None) -> PythonRecord:
    if not distributions and script is None:
        raise ValueError(
            "a Python program's record needs its distributions or its script: an interpreter alone runs any code"
        )
    from signing import selfcheck_python

    records = sorted(
        (selfcheck_python.record_distribution(name) for name in distributions), key=lambda d: d.name.encode()
    )
    if len({d.name for d in records}) != len(records):
        raise ValueError(f"a distribution is named twice: {', '.join(distributions)}")
    libraries = (
        selfcheck_python.running_libraries() if binary is None else selfcheck_python.interpreter_libraries(Path(binary))
    )
    return PythonRecord(
        libraries=libraries,
        script=None if script is None else _recorded_file(script),
        distributions=tuple(records),
    )


def _recorded_file(path: PathLike) -> NamedFile:
    return NamedFile(Path(path).name, file_digest(Path(path), follow_symlinks=True))


def _named_json(file: NamedFile) -> dict[str, Any]:
    return {"name": file.name, "digest": f"sha256:{file.digest.sha256}", "size": file.digest.size}


def _named(file: NamedFile) -> str:
    return f"{file.name}: sha256:{file.digest.sha256} ({file.digest.size} bytes)"
