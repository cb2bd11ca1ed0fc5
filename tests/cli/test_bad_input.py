"""The bad-input table of issue 2: one row per kind of bad input.

Every row asserts the exact exit code, one clear line that names the problem
and the offending path, and that nothing under the test's directory (bundle,
keys, signatures) was written or changed. Exit codes follow the README's
table: 2 when the command was asked wrongly (a key, password, path or output
place that cannot be used), 1 when what was given is refused.

Errors of keygen/sign and usage errors of verify-bundle are that one line on
stderr, starting `packseal: error: `. Refusals of verify-bundle are a human
summary on stdout whose first line starts `REFUSED`; one line of it must name
both the problem and the path, and stderr must hold no traceback.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

UNREADABLE = (
    r"invalid|malformed|unreadable|corrupt|truncat|garbage|not a (valid )?|"
    r"cannot (be )?(read|pars|decod)|could not (read|pars|decod)|pars(e|ing)|decod|format"
)
NOT_FOUND = r"not exist|no such|not found|missing|does not"
COLLISION = r"case|collid|collision|NFC|normali"
READ_ONLY = r"read-only|permission|denied|not writable|cannot write|could not write"


@dataclass
class Invocation:
    args: list[Any]
    names: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    unprivileged: bool = False


@dataclass
class Row:
    id: str
    setup: Callable[[SimpleNamespace], Invocation]
    exit: int | tuple[int, ...]
    problem: str
    refusal: bool = False


# --- keygen ---------------------------------------------------------------


def keygen_over_existing(*present: str) -> Callable[[SimpleNamespace], Invocation]:
    def setup(ctx: SimpleNamespace) -> Invocation:
        out = ctx.tmp_path / "out"
        out.mkdir()
        for suffix in present:
            (out / f"packseal{suffix}").write_bytes(getattr(ctx.keys, suffix[1:]).read_bytes())
        return Invocation(
            ["keygen", "--output-dir", out, "--no-password"],
            tuple(f"packseal{suffix}" for suffix in present),
        )

    return setup


def keygen_without_password_source(ctx: SimpleNamespace) -> Invocation:
    out = ctx.tmp_path / "out"
    out.mkdir()
    return Invocation(["keygen", "--output-dir", out], ("password",))


# --- sign -----------------------------------------------------------------


def sign_with_key_file(make: Callable[[SimpleNamespace], Path]) -> Callable[[SimpleNamespace], Invocation]:
    def setup(ctx: SimpleNamespace) -> Invocation:
        key = make(ctx)
        return Invocation(["sign", ctx.pack, "--minisign-key", key], (key.name,))

    return setup


def bad_key_file(kind: str, suffix: str) -> Callable[[SimpleNamespace], Path]:
    """A `.key` or `.pub` file that is garbage, truncated, absent, or the pair's other half."""

    def make(ctx: SimpleNamespace) -> Path:
        real = ctx.keys.key if suffix == ".key" else ctx.keys.pub
        if kind == "other-half":
            return ctx.keys.pub if suffix == ".key" else ctx.keys.key
        path = ctx.tmp_path / "keys" / f"{kind}{suffix}"
        if kind == "garbage":
            path.write_bytes(b"untrusted comment: not a key\n\x00\xff\xfe junk, not base64!\r\n")
        elif kind == "truncated":
            path.write_bytes(real.read_bytes()[: len(real.read_bytes()) * 2 // 3])
        return path

    return make


def sign_with_wrong_password(ctx: SimpleNamespace) -> Invocation:
    locked = ctx.key_store("locked", password=ctx.cli.PASSWORD).copy_to(ctx.tmp_path / "locked")
    return Invocation(
        ["sign", ctx.pack, "--minisign-key", locked.key],
        (locked.key.name,),
        env={"PACKSEAL_PASSWORD": "not the password"},
    )


def sign_missing_bundle(ctx: SimpleNamespace) -> Invocation:
    return Invocation(["sign", ctx.tmp_path / "no-such-pack", "--minisign-key", ctx.keys.key], ("no-such-pack",))


def sign_unsafe_pack(add: Callable[[Path], tuple[str, ...]]) -> Callable[[SimpleNamespace], Invocation]:
    def setup(ctx: SimpleNamespace) -> Invocation:
        names = add(ctx.pack)
        return Invocation(["sign", ctx.pack, "--minisign-key", ctx.keys.key], names)

    return setup


def add_fifo(pack: Path) -> tuple[str, ...]:
    os.mkfifo(pack / "docs" / "queue")
    return ("docs/queue",)


def add_link(target: str) -> Callable[[Path], tuple[str, ...]]:
    def add(pack: Path) -> tuple[str, ...]:
        (pack.parent / "outside.txt").write_text("outside the bundle\n")
        (pack / "docs" / "escape.md").symlink_to(target)
        return ("docs/escape.md",)

    return add


def add_case_twin(pack: Path) -> tuple[str, ...]:
    (pack / "readme.md").write_text("a second readme\n")
    return ("readme.md", "README.md")


def add_nfd_twin(pack: Path) -> tuple[str, ...]:
    (pack / "données" / unicodedata.normalize("NFD", "café.txt")).write_text("décomposé\n")
    return ("données/café.txt",)


def sign_into_read_only(ctx: SimpleNamespace) -> Invocation:
    ctx.make_read_only(ctx.pack)
    return Invocation(["sign", ctx.pack, "--minisign-key", ctx.keys.key], ("pack",), unprivileged=True)


def sign_file_into_read_only(ctx: SimpleNamespace) -> Invocation:
    ctx.make_read_only(ctx.single_file.parent)
    return Invocation(
        ["sign", ctx.single_file, "--minisign-key", ctx.keys.key],
        (ctx.single_file.name, ctx.single_file.parent.name),
        unprivileged=True,
    )


# --- verify-bundle: usage errors ------------------------------------------


def verify_with_pubkey(make: Callable[[SimpleNamespace], Path]) -> Callable[[SimpleNamespace], Invocation]:
    def setup(ctx: SimpleNamespace) -> Invocation:
        ctx.cli.sign_ok(ctx.pack, ctx.keys)
        pub = make(ctx)
        return Invocation(["verify-bundle", ctx.pack, "--minisign-pubkey", pub], (pub.name,))

    return setup


def verify_missing_bundle(ctx: SimpleNamespace) -> Invocation:
    return Invocation(
        ["verify-bundle", ctx.tmp_path / "no-such-pack", "--minisign-pubkey", ctx.keys.pub], ("no-such-pack",)
    )


def verify_without_trusted_key(ctx: SimpleNamespace) -> Invocation:
    ctx.cli.sign_ok(ctx.pack, ctx.keys)
    return Invocation(["verify-bundle", ctx.pack], ("--minisign-pubkey", "public key"))


# --- verify-bundle: refusals ----------------------------------------------


def verify_with_signature(
    make: Callable[[SimpleNamespace, Path], None], file_bundle: bool = False
) -> Callable[[SimpleNamespace], Invocation]:
    def setup(ctx: SimpleNamespace) -> Invocation:
        bundle = ctx.single_file if file_bundle else ctx.pack
        ctx.cli.sign_ok(bundle, ctx.keys)
        signature = bundle.with_name(bundle.name + ".minisig") if file_bundle else bundle / ctx.cli.MANIFEST_SIG
        make(ctx, signature)
        return Invocation(["verify-bundle", bundle, "--minisign-pubkey", ctx.keys.pub], (signature.name,))

    return setup


def garble(ctx: SimpleNamespace, signature: Path) -> None:
    signature.write_bytes(b"untrusted comment: hello\n%%% not a signature %%%\n")


def truncate(ctx: SimpleNamespace, signature: Path) -> None:
    signature.write_bytes(b"\n".join(signature.read_bytes().split(b"\n")[:2]) + b"\n")


def truncate_mid_line(ctx: SimpleNamespace, signature: Path) -> None:
    signature.write_bytes(signature.read_bytes()[:60])


def verify_signed_by_another_key(ctx: SimpleNamespace) -> Invocation:
    ctx.cli.sign_ok(ctx.pack, ctx.other_keys)
    return Invocation(
        ["verify-bundle", ctx.pack, "--minisign-pubkey", ctx.keys.pub], ctx.cli.key_id_forms(ctx.other_keys.pub)
    )


def verify_crafted(edit: Callable[[list], tuple[str, ...]]) -> Callable[[SimpleNamespace], Invocation]:
    """Sign the pack, then re-sign a manifest whose file list was edited."""

    def setup(ctx: SimpleNamespace) -> Invocation:
        ctx.cli.sign_ok(ctx.pack, ctx.keys)
        names: list[str] = []
        ctx.cli.craft_manifest(ctx.pack, ctx.keys, lambda entries: names.extend(edit(entries)))
        return Invocation(["verify-bundle", ctx.pack, "--minisign-pubkey", ctx.keys.pub], tuple(names))

    return setup


def add_entry_like(source: str, path: str) -> Callable[[list], tuple[str, ...]]:
    def edit(entries: list) -> tuple[str, ...]:
        entry = dict(next(e for e in entries if e["path"] == source))
        entry["path"] = path
        entries.append(entry)
        return (unicodedata.normalize("NFC", path), source)

    return edit


def verify_with_manifest_bytes(make: Callable[[bytes], bytes]) -> Callable[[SimpleNamespace], Invocation]:
    """Sign the pack, then sign a replacement manifest.json with the trusted key."""

    def setup(ctx: SimpleNamespace) -> Invocation:
        ctx.cli.sign_ok(ctx.pack, ctx.keys)
        original = (ctx.pack / ctx.cli.MANIFEST).read_bytes()
        comment = ctx.cli.trusted_comment(ctx.pack / ctx.cli.MANIFEST_SIG)
        ctx.cli.resign_manifest(ctx.pack, ctx.keys, make(original), comment)
        return Invocation(["verify-bundle", ctx.pack, "--minisign-pubkey", ctx.keys.pub], ("manifest.json",))

    return setup


def padded_to_100_mb(original: bytes) -> bytes:
    assert original.endswith(b"}")
    return original[:-1] + b',"zzpadding":"' + b"x" * (100 * 1024 * 1024) + b'"}'


def nested_10000_deep(original: bytes) -> bytes:
    return b'{"_type":"https://in-toto.io/Statement/v1","predicate":' + b"[" * 10_000 + b"]" * 10_000 + b"}"


ROWS = [
    Row("keygen-over-existing-key-pair", keygen_over_existing(".key", ".pub"), 2, r"exist|overwrit"),
    Row("keygen-over-existing-public-key", keygen_over_existing(".pub"), 2, r"exist|overwrit"),
    Row("keygen-over-existing-secret-key", keygen_over_existing(".key"), 2, r"exist|overwrit"),
    Row("keygen-no-password-source-no-tty", keygen_without_password_source, 2, r"password"),
    Row("sign-garbage-key", sign_with_key_file(bad_key_file("garbage", ".key")), 2, UNREADABLE),
    Row("sign-truncated-key", sign_with_key_file(bad_key_file("truncated", ".key")), 2, UNREADABLE),
    Row(
        "sign-public-key-as-secret-key",
        sign_with_key_file(bad_key_file("other-half", ".key")),
        2,
        r"public key|secret key",
    ),
    Row("sign-missing-key-file", sign_with_key_file(bad_key_file("absent", ".key")), 2, NOT_FOUND),
    Row("sign-wrong-password", sign_with_wrong_password, 2, r"password"),
    Row("sign-missing-bundle", sign_missing_bundle, 2, NOT_FOUND),
    Row("sign-fifo-in-bundle", sign_unsafe_pack(add_fifo), 1, r"fifo|special|pipe|not a (regular )?file"),
    Row("sign-link-escaping-via-dotdot", sign_unsafe_pack(add_link("../../outside.txt")), 1, r"outside|escap|leaves"),
    Row(
        "sign-link-escaping-absolute", sign_unsafe_pack(add_link("/etc/hostname")), 1, r"outside|escap|leaves|absolute"
    ),
    Row("sign-casefold-collision", sign_unsafe_pack(add_case_twin), 1, COLLISION),
    Row("sign-nfc-collision", sign_unsafe_pack(add_nfd_twin), 1, COLLISION),
    Row("sign-into-read-only-directory", sign_into_read_only, 2, READ_ONLY),
    Row("sign-file-into-read-only-directory", sign_file_into_read_only, 2, READ_ONLY),
    Row("verify-missing-pubkey-file", verify_with_pubkey(bad_key_file("absent", ".pub")), 2, NOT_FOUND),
    Row("verify-garbage-pubkey", verify_with_pubkey(bad_key_file("garbage", ".pub")), 2, UNREADABLE + "|public key"),
    Row(
        "verify-truncated-pubkey", verify_with_pubkey(bad_key_file("truncated", ".pub")), 2, UNREADABLE + "|public key"
    ),
    Row(
        "verify-secret-key-as-pubkey",
        verify_with_pubkey(bad_key_file("other-half", ".pub")),
        2,
        r"secret key|public key",
    ),
    Row("verify-missing-bundle", verify_missing_bundle, 2, NOT_FOUND),
    Row("verify-no-trusted-key", verify_without_trusted_key, 2, r"no trusted|not given|missing|required"),
    Row("verify-garbage-signature", verify_with_signature(garble), 1, UNREADABLE, refusal=True),
    Row("verify-truncated-signature", verify_with_signature(truncate), 1, UNREADABLE, refusal=True),
    Row("verify-signature-cut-mid-line", verify_with_signature(truncate_mid_line), 1, UNREADABLE, refusal=True),
    Row("verify-garbage-file-signature", verify_with_signature(garble, file_bundle=True), 1, UNREADABLE, refusal=True),
    Row(
        "verify-signed-by-another-key",
        verify_signed_by_another_key,
        1,
        r"unknown|untrusted|not trusted|no trusted",
        refusal=True,
    ),
    Row(
        "verify-manifest-dotdot-path",
        verify_crafted(add_entry_like("README.md", "../escape.md")),
        1,
        r"\.\.|outside|escap",
        refusal=True,
    ),
    Row(
        "verify-manifest-absolute-path",
        verify_crafted(add_entry_like("README.md", "/etc/passwd")),
        1,
        r"absolute",
        refusal=True,
    ),
    Row(
        "verify-manifest-duplicate-path",
        verify_crafted(add_entry_like("README.md", "README.md")),
        1,
        r"duplicate",
        refusal=True,
    ),
    Row(
        "verify-manifest-casefold-collision",
        verify_crafted(add_entry_like("README.md", "readme.md")),
        1,
        COLLISION,
        refusal=True,
    ),
    Row(
        "verify-manifest-nfc-collision",
        verify_crafted(add_entry_like("données/café.txt", unicodedata.normalize("NFD", "données/café.txt"))),
        1,
        COLLISION,
        refusal=True,
    ),
    Row(
        "verify-manifest-100-mb",
        verify_with_manifest_bytes(padded_to_100_mb),
        1,
        r"too (large|big)|size|limit|exceed",
        refusal=True,
    ),
    Row(
        "verify-manifest-nested-10000-deep",
        verify_with_manifest_bytes(nested_10000_deep),
        1,
        r"deep|depth|nest|recursion",
        refusal=True,
    ),
]


@pytest.fixture
def ctx(tmp_path, cli, keys, other_keys, key_store, make_read_only, pack, single_file) -> SimpleNamespace:
    return SimpleNamespace(
        tmp_path=tmp_path,
        cli=cli,
        keys=keys,
        other_keys=other_keys,
        key_store=key_store,
        make_read_only=make_read_only,
        pack=pack,
        single_file=single_file,
    )


def _line_naming(text: str, names: tuple[str, ...], problem: str) -> str | None:
    for line in unicodedata.normalize("NFC", text).splitlines():
        if any(name in line for name in names) and re.search(problem, line, re.IGNORECASE):
            return line
    return None


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, ctx: SimpleNamespace) -> None:
    invocation = row.setup(ctx)
    before = ctx.cli.snapshot(ctx.tmp_path)

    result = ctx.cli.packseal(*invocation.args, env=invocation.env, unprivileged=invocation.unprivileged)

    shown = ctx.cli.describe(result)
    expected_exit = row.exit if isinstance(row.exit, tuple) else (row.exit,)
    assert result.returncode in expected_exit, shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    if row.refusal:
        assert result.stdout.startswith("REFUSED"), shown
        assert _line_naming(result.stdout, invocation.names, row.problem), (invocation.names, row.problem, shown)
    else:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, shown
        assert lines[0].startswith("packseal: error: "), shown
        assert _line_naming(lines[0], invocation.names, row.problem), (invocation.names, row.problem, shown)
    after = ctx.cli.snapshot(ctx.tmp_path)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    assert changed == [], f"written or changed on disk: {changed}"
