"""The trust policy file: one TOML file saying which publisher is trusted for which bundles, and how.

```toml
[[publisher]]
name = "acme"
bundles = ["acme-*"]
minisign_keys = ["keys/acme-2026.pub", "keys/acme-2027.pub"]   # relative to this file
revoked_keys = ["9A3C1F"]                                      # refused even if listed above
sigstore = [{ identity = "https://github.com/acme/packs/.github/workflows/release.yml@refs/tags/v*",
              issuer = "https://token.actions.githubusercontent.com", github_repository = "acme/packs" }]
require_provenance = true
source_repo = "https://github.com/acme/packs"
builder_id = "https://github.com/actions/runner"
versioning = "semver"                                          # how install orders versions; default "pep440"
```

Each publisher becomes a `signing.policy.TrustPolicy`: any listed minisign
key not revoked may sign (key rotation and revocation are edits of this
file), any listed Sigstore identity may sign, and a publisher that lists
both systems requires both signatures. The file fails closed: an unknown
key, a wrong type, an empty list, an identity pattern that is only
wildcards or leaves the host open, a key file that cannot be read — each is
a `TrustPolicyError` naming the file and the line. tomllib reports no line
for a value it parsed fine, so `_Lines` finds the line of the offending
key by scanning the text.
"""

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from attest.errors import AttestError
from attest.repository_url import normalise_repository
from signing.backends import BundleVerifier
from signing.backends.minisign import MinisignKeyring, key_id, read_public_key
from signing.backends.minisign_files import canonical_key_id
from signing.errors import BundleError, KeyFileError, TrustPolicyError
from signing.files import PathLike, read_regular_file
from signing.policy import AllOf, SourceCheck, TrustPolicy
from signing.source_checks import BuilderIs, RepositoryIs
from signing.versions import Scheme

if TYPE_CHECKING:
    from signing.backends.sigstore import SigstoreIdentityPolicy, SigstoreInstance

T = TypeVar("T")

MAX_POLICY_BYTES = 1024 * 1024
_IDENTITY_WILDCARD = "[^/@]*"
"""What `*` matches in an identity: never a `/` or `@`, so it cannot reach into another path segment or ref."""

_PUBLISHER_KEYS = frozenset(
    {
        "name", "bundles", "minisign_keys", "revoked_keys", "sigstore",
        "require_provenance", "source_repo", "builder_id", "versioning",
    }
)  # fmt: skip
_SIGSTORE_KEYS = frozenset({"identity", "issuer", "github_repository"})


@dataclass(frozen=True)
class TrustedKey:
    """A minisign public key a publisher may sign with: the file it was read from, and its id."""

    path: Path
    key_id: str


@dataclass(frozen=True)
class SigstoreIdentity:
    """A Sigstore signer a publisher may sign as: an identity (exact, or a `*` glob), its exact issuer.

    `*` matches any run of characters but `/` and `@`, and the pattern
    matches the whole identity: `...release.yml@refs/tags/v*` accepts tag
    `v1.2.0`, never a branch, another workflow, or a longer identity.
    `github_repository` pins the repository whose workflow ran, which the
    identity alone does not for a reusable workflow.
    """

    identity: str
    issuer: str
    github_repository: str | None = None

    @property
    def regexp(self) -> str:
        """The identity as the anchored regular expression it stands for."""
        return "^" + _IDENTITY_WILDCARD.join(re.escape(part) for part in self.identity.split("*")) + "$"

    def identity_policy(self) -> "SigstoreIdentityPolicy":
        from signing.backends.sigstore import SigstoreIdentityPolicy

        exact = "*" not in self.identity
        return SigstoreIdentityPolicy(
            identity=self.identity if exact else None,
            identity_regexp=None if exact else self.regexp,
            issuer=self.issuer,
            github_repository=self.github_repository,
        )

    def to_json(self) -> dict[str, str | None]:
        return {"identity": self.identity, "issuer": self.issuer, "github_repository": self.github_repository}


@dataclass(frozen=True)
class Publisher:
    """Who may sign the bundles whose names match `bundles`, and where they must come from."""

    name: str
    bundles: tuple[str, ...]
    minisign_keys: tuple[TrustedKey, ...]
    revoked_keys: tuple[str, ...]
    sigstore: tuple[SigstoreIdentity, ...]
    require_provenance: bool
    source_repo: str | None
    builder_id: str | None
    versioning: Scheme = Scheme.PEP440
    """How the publisher's signed versions order, for install's rollback protection."""
    keyring: MinisignKeyring | None = field(default=None, compare=False, repr=False)
    """The listed keys not revoked, read when the file was loaded."""

    def matches(self, bundle: str) -> bool:
        """Whether one of `bundles` matches the whole name; only `*` is a wildcard, matching anything."""
        return any(_bundle_glob(pattern).fullmatch(bundle) for pattern in self.bundles)

    @property
    def source(self) -> AllOf:
        """What the bundle's signed provenance must state: `source_repo`, `builder_id`, or just exist."""
        checks: list[SourceCheck] = []
        if self.source_repo is not None:
            checks.append(RepositoryIs(self.source_repo))
        if self.builder_id is not None:
            checks.append(BuilderIs(self.builder_id))
        return AllOf(tuple(checks), provenance=self.require_provenance)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bundles": list(self.bundles),
            "minisign_keys": [{"path": str(key.path), "key_id": key.key_id} for key in self.minisign_keys],
            "revoked_keys": list(self.revoked_keys),
            "sigstore": [identity.to_json() for identity in self.sigstore],
            "require_provenance": self.require_provenance,
            "source_repo": self.source_repo,
            "builder_id": self.builder_id,
            "versioning": self.versioning.value,
        }


@dataclass(frozen=True)
class TrustFile:
    """A parsed, checked policy file; `digest` (`sha256:<hex>` of its bytes) names the exact policy used.

    `sigstore` is the Sigstore instance to verify against (its trusted
    root, offline or not): the command's options, never the file's, as for
    every other verification. None is production Sigstore.
    """

    path: Path
    digest: str
    publishers: tuple[Publisher, ...]
    sigstore: "SigstoreInstance | None" = field(default=None, compare=False)

    @classmethod
    def load(cls, path: PathLike, *, sigstore: "SigstoreInstance | None" = None) -> "TrustFile":
        """Read and check the policy file at `path`; every problem is one `TrustPolicyError` with file and line."""
        path = Path(path)
        try:
            data = read_regular_file(path, MAX_POLICY_BYTES, follow_symlinks=True)
        except BundleError as err:
            raise TrustPolicyError(f"cannot read trust policy {err}") from None
        try:
            text = data.decode()
            document = tomllib.loads(text)
        except UnicodeDecodeError as err:
            raise TrustPolicyError(f"{path}: a trust policy is UTF-8 text ({err.reason} at byte {err.start})") from None
        except tomllib.TOMLDecodeError as err:
            raise TrustPolicyError(_decode_error(path, err, text)) from None
        except RecursionError:
            # tomllib recurses once per nested array or inline table; a policy nests two deep.
            raise TrustPolicyError(f"{path}: not a trust policy: TOML nested too deeply") from None
        lines = _Lines(path, text)
        publishers = _Parser(path, lines).publishers(document)
        return cls(path, f"sha256:{hashlib.sha256(data).hexdigest()}", publishers, sigstore)

    def matching(self, bundle: str) -> tuple[Publisher, ...]:
        """Every publisher whose `bundles` match the name `bundle`."""
        return tuple(publisher for publisher in self.publishers if publisher.matches(bundle))

    def publisher_for(self, bundle: str) -> Publisher:
        """The one publisher trusted for bundles named `bundle`; none, or two, is a `TrustPolicyError`.

        Two is an error in the policy, never resolved by order: either
        publisher's signers would otherwise decide what the other ships.
        """
        found = self.matching(bundle)
        if not found:
            raise TrustPolicyError(f"{self.path}: no publisher's bundles match {bundle!r}")
        if len(found) > 1:
            names = " and ".join(repr(publisher.name) for publisher in found)
            raise TrustPolicyError(
                f"{self.path}: bundle {bundle!r} matches the bundles of publishers {names}; "
                "a bundle name must match exactly one publisher"
            )
        return found[0]

    def policy_for(self, publisher: Publisher) -> TrustPolicy:
        """The publisher's signers (all systems listed, any signer in each) and source requirements."""
        verifiers: list[BundleVerifier] = [] if publisher.keyring is None else [publisher.keyring]
        if publisher.sigstore:
            from signing.backends import sigstore as sigstore_backend

            instance = self.sigstore or sigstore_backend.SigstoreInstance()
            policies = tuple(identity.identity_policy() for identity in publisher.sigstore)
            verifiers.append(sigstore_backend.SigstoreVerifier(instance, policies))
        return TrustPolicy(tuple(verifiers), publisher.source)


def _bundle_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _decode_error(path: Path, err: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's message as `file:line: reason`: Python 3.11's tomllib gives its position only in the text."""
    message = str(err)
    at_end = re.fullmatch(r"(.*) \(at end of document\)", message)
    if at_end is not None:
        last = max(1, len(text.removesuffix("\n").split("\n")))  # TOML's lines end at "\n" only
        return f"{path}:{last}: not TOML: {at_end.group(1)} (at the end of the file)"
    found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
    if found is None:
        return f"{path}: not TOML: {message}"
    reason, line, column = found.groups()
    return f"{path}:{line}: not TOML: {reason} (column {column})"


class _Lines:
    """Finds the line of a key or table in the policy text, for the errors tomllib cannot place.

    Publisher `i` spans from its `i`-th `[[publisher]]` header to the next;
    a key is found at the start of a line (bare or quoted) or as a table
    header below it. When the text is shaped otherwise (inline tables), the
    nearest enclosing line known is named instead.

    Lines are counted as TOML (and tomllib) counts them, at `\n` only, not
    at a U+2028 or U+0085 a string may hold; a line that starts inside a
    multi-line string is no key or header, whatever it looks like.
    """

    _PUBLISHER_HEADER = re.compile(r"\s*\[\[\s*publisher\s*\]\]")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        lines = text.split("\n")
        outside = _starts_outside_strings(lines)
        self.lines = [line if starts else "" for line, starts in zip(lines, outside, strict=True)]
        self.starts = [number for number, line in enumerate(self.lines) if self._PUBLISHER_HEADER.match(line)]

    def error(self, message: str, *, publisher: int | None = None, key: str | None = None) -> TrustPolicyError:
        return TrustPolicyError(f"{self.path}:{self.line(publisher, key)}: {message}")

    def line(self, publisher: int | None, key: str | None) -> int:
        first, end = self._span(publisher)
        if key is not None:
            assignment = re.compile(rf"""\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*[=.]""")
            prefix = "" if publisher is None else r"publisher\s*\.\s*"
            header = re.compile(rf"\s*\[\[?\s*{prefix}{re.escape(key)}\s*[\].]")
            for number in range(first, end):
                line = self.lines[number]
                if (assignment.match(line) and (publisher is not None or number < self._top_end)) or header.match(line):
                    return number + 1
        return first + 1

    @property
    def _top_end(self) -> int:
        """Where the top-level keys end: at the first table header."""
        return next((n for n, line in enumerate(self.lines) if line.lstrip().startswith("[")), len(self.lines))

    def _span(self, publisher: int | None) -> tuple[int, int]:
        if publisher is None or publisher >= len(self.starts):
            return 0, len(self.lines)
        end = self.starts[publisher + 1] if publisher + 1 < len(self.starts) else len(self.lines)
        return self.starts[publisher], end


_OUTSIDE_STRING = re.compile(r""""{3}|'{3}|"(?:[^"\\]|\\.)*"|'[^']*'|#.*""")
"""What may come next on a line outside a string: a multi-line string's start, a one-line string, a comment."""
_MULTI_LINE_END = {
    '"""': re.compile(r'(?:[^\\"]|\\.|"(?!""))*"{3,5}'),
    "'''": re.compile(r"(?:[^']|'(?!''))*'{3,5}"),
}
"""From inside a multi-line string to its end on this line (up to two quotes before the three may be content)."""


def _starts_outside_strings(lines: list[str]) -> list[bool]:
    """Whether each line of a valid TOML document starts outside a multi-line string."""
    starts: list[bool] = []
    inside: str | None = None
    for line in lines:
        starts.append(inside is None)
        position = 0
        while True:
            if inside is not None:
                end = _MULTI_LINE_END[inside].match(line, position)
                if end is None:
                    break
                position, inside = end.end(), None
            token = _OUTSIDE_STRING.search(line, position)
            if token is None:
                break
            position = token.end()
            inside = token.group() if token.group() in _MULTI_LINE_END else None
    return starts


@dataclass
class _Parser:
    """Checks the parsed document, publisher by publisher, raising with the line of what is wrong."""

    path: Path
    lines: _Lines

    def publishers(self, document: Mapping[str, Any]) -> tuple[Publisher, ...]:
        for key in document:
            if key != "publisher":
                raise self.lines.error(f"unknown key {key!r}: a trust policy holds only [[publisher]] tables", key=key)
        tables = document.get("publisher")
        if not isinstance(tables, list) or not tables:
            raise self.lines.error("a trust policy needs at least one [[publisher]] table", key="publisher")
        publishers: list[Publisher] = []
        for index, table in enumerate(tables):
            if not isinstance(table, dict):
                raise self.lines.error("each publisher must be a table ([[publisher]])", key="publisher")
            publisher = _PublisherParser(self.path, self.lines, index, table).publisher()
            if any(other.name == publisher.name for other in publishers):
                raise self.lines.error(f"publisher {publisher.name!r} is defined twice", publisher=index, key="name")
            publishers.append(publisher)
        return tuple(publishers)


@dataclass
class _PublisherParser:
    """One `[[publisher]]` table: every key known, of its type, and together a policy that trusts someone."""

    path: Path
    lines: _Lines
    index: int
    table: Mapping[str, Any]
    label: str = ""
    """How errors name the publisher: by its name once read, by its position before."""

    def publisher(self) -> Publisher:
        self.label = f"publisher {self.index + 1}"
        name = self.string("name", required=True)
        assert name is not None
        self.label = f"publisher {name!r}"
        for key in self.table:
            if key not in _PUBLISHER_KEYS:
                known = ", ".join(sorted(_PUBLISHER_KEYS))
                raise self.error(f"unknown key {key!r} (a publisher may hold {known})", key)
        bundles = tuple(self.strings("bundles", required=True))
        for pattern in bundles:
            # `*` alone is allowed: a policy with one publisher may trust it for every bundle.
            if not pattern.strip("*") and pattern != "*":
                raise self.error(f"bundles: {pattern!r} is only wildcards; write '*' to mean every name", "bundles")
        revoked = self.revoked()
        keys, keyring = self.minisign_keys(revoked)
        sigstore = self.sigstore()
        if keyring is None and not sigstore:
            raise self.error(f"{self.label} trusts no signer: list minisign_keys or sigstore identities", "name")
        source_repo = self.string("source_repo")
        builder_id = self.string("builder_id")
        require = self.value("require_provenance", bool, "true or false")
        if require is False and (source_repo is not None or builder_id is not None):
            raise self.error(
                "require_provenance = false contradicts source_repo and builder_id, which are read from provenance",
                "require_provenance",
            )
        if source_repo is not None:
            try:
                normalise_repository(source_repo)
            except AttestError as err:
                raise self.error(f"source_repo: {err}", "source_repo") from None
        return Publisher(
            name=name,
            bundles=bundles,
            minisign_keys=keys,
            revoked_keys=revoked,
            sigstore=sigstore,
            require_provenance=bool(require) or source_repo is not None or builder_id is not None,
            source_repo=source_repo,
            builder_id=builder_id,
            versioning=self.versioning(),
            keyring=keyring,
        )

    def error(self, message: str, key: str | None) -> TrustPolicyError:
        prefix = "" if message.startswith(self.label) else f"{self.label}: "
        return self.lines.error(prefix + message, publisher=self.index, key=key)

    def value(self, key: str, kind: type[T], described: str, *, required: bool = False) -> T | None:
        if key not in self.table:
            if required:
                raise self.error(f"{key} is required", None)
            return None
        value = self.table[key]
        if not isinstance(value, kind):
            raise self.error(f"{key} must be {described}, not {_toml_type(value)}", key)
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.value(key, str, "a string", required=required)
        if value is not None and not value.strip():
            raise self.error(f"{key} is empty", key)
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        """A non-empty list of non-empty strings; an empty list given is an error, never "nothing required"."""
        values = self.value(key, list, "a list of strings", required=required)
        if values is None:
            return []
        if not values:
            raise self.error(f"{key} is an empty list; list at least one, or remove the key", key)
        for position, value in enumerate(values, 1):
            if not isinstance(value, str) or not value.strip():
                raise self.error(f"{key}: entry {position} must be a non-empty string, not {_toml_type(value)}", key)
        return list(values)

    def versioning(self) -> Scheme:
        value = self.string("versioning")
        if value is None:
            return Scheme.PEP440
        if value not in set(Scheme):
            schemes = " or ".join(repr(scheme.value) for scheme in Scheme)
            raise self.error(f"versioning is {value!r}; it must be {schemes}", "versioning")
        return Scheme(value)

    def revoked(self) -> tuple[str, ...]:
        """Key ids as minisign prints them; a padded id (minisign 0.12's) is the same id."""
        ids = []
        for value in self.strings("revoked_keys"):
            try:
                ids.append(canonical_key_id(value))
            except ValueError as err:
                raise self.error(f"revoked_keys: {err}", "revoked_keys") from None
        return tuple(sorted(set(ids)))

    def minisign_keys(self, revoked: tuple[str, ...]) -> tuple[tuple[TrustedKey, ...], MinisignKeyring | None]:
        """Each key file, relative to the policy file, read now; the keyring of those not revoked."""
        paths = self.strings("minisign_keys")
        if not paths:
            return (), None
        keys, trusted = [], []
        for entry in paths:
            path = self.path.parent / entry
            try:
                key = read_public_key(path)
            except KeyFileError as err:
                raise self.error(f"minisign_keys: {err}", "minisign_keys") from None
            keys.append(TrustedKey(path, key_id(key)))
            trusted.append(key)
        if {key.key_id for key in keys} <= set(revoked):
            raise self.error(
                "every key in minisign_keys is revoked; list the key that replaces them, or remove minisign_keys",
                "revoked_keys",
            )
        try:
            keyring = MinisignKeyring(trusted, revoked=revoked)
        except TrustPolicyError as err:
            raise self.error(f"minisign_keys: {err}", "minisign_keys") from None
        return tuple(keys), keyring

    def sigstore(self) -> tuple[SigstoreIdentity, ...]:
        entries = self.value("sigstore", list, "a list of { identity, issuer } tables")
        if entries is None:
            return ()
        if not entries:
            raise self.error("sigstore is an empty list; list at least one identity, or remove the key", "sigstore")
        return tuple(self.identity(position, entry) for position, entry in enumerate(entries, 1))

    def identity(self, position: int, entry: object) -> SigstoreIdentity:
        where = f"sigstore entry {position}"
        if not isinstance(entry, dict):
            raise self.error(f"{where} must be a table {{ identity = ..., issuer = ... }}", "sigstore")
        unknown = set(entry) - _SIGSTORE_KEYS
        if unknown:
            known = ", ".join(sorted(_SIGSTORE_KEYS))
            raise self.error(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {known})", "sigstore")
        for key in ("identity", "issuer"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise self.error(f"{where}: {key} is required, a non-empty string", "sigstore")
        repository = entry.get("github_repository")
        if repository is not None and (not isinstance(repository, str) or not repository.strip()):
            raise self.error(f"{where}: github_repository must be a non-empty string (owner/name)", "sigstore")
        problem = _identity_problem(entry["identity"]) or _issuer_problem(entry["issuer"])
        if problem:
            raise self.error(f"{where}: {problem}", "sigstore")
        return SigstoreIdentity(entry["identity"], entry["issuer"], repository)


def _identity_problem(pattern: str) -> str | None:
    """Why an identity pattern would trust more than one signer's identities, if it would.

    Only wildcards matches every identity of the issuer; a wildcard in the
    host (or in an email's domain) matches identities of other hosts.
    """
    if not pattern.replace("*", "").strip():
        return f"identity {pattern!r} is only wildcards: it would trust anyone the issuer vouches for"
    if "*" not in pattern:
        return None
    scheme, separator, rest = pattern.partition("://")
    if separator:
        host = rest.split("/", 1)[0]
        if "*" in scheme or "*" in host or not host:
            return f"identity {pattern!r}: a wildcard may not stand in the scheme or host"
        return None
    if "@" not in pattern or "*" in pattern.rsplit("@", 1)[1]:
        return f"identity {pattern!r}: a wildcard may not stand in an email's domain"
    return None


def _issuer_problem(issuer: str) -> str | None:
    if "*" in issuer:
        return f"issuer {issuer!r}: an issuer is exact, without wildcards"
    return None


def _toml_type(value: object) -> str:
    names: dict[type, str] = {
        str: "a string", bool: "a boolean", int: "an integer", float: "a float", list: "an array", dict: "a table",
    }  # fmt: skip
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)
