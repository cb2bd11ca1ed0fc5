"""`packseal policy check`: load a trust policy file as verification would, and say whom it trusts for what.

The file is checked exactly as `verify-bundle --policy` checks it (every
key file read, every pattern checked), so a policy that passes here loads
there; a malformed one is one error line naming the file and line, exit 2.
"""

import json
from pathlib import Path

import click

from signing.cli.exits import print_help_when_bare
from signing.errors import ExitStatus
from signing.schemas import JSON_SCHEMA_VERSION
from signing.terminal import escape
from signing.trustfile import Publisher, TrustFile


@click.group("policy", invoke_without_command=True)
@click.pass_context
def policy_group(context: click.Context) -> None:
    """Check trust policy files."""
    print_help_when_bare(context)


@policy_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the checked policy as JSON.")
def check(path: Path, as_json: bool) -> int:
    """Validate the trust policy file PATH and print, per publisher, whom it trusts for which bundles."""
    trust_file = TrustFile.load(path)
    if as_json:
        document = {
            "schema": JSON_SCHEMA_VERSION,
            "policy": str(trust_file.path),
            "digest": trust_file.digest,
            "publishers": [publisher.to_json() for publisher in trust_file.publishers],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(describe(trust_file))
    return ExitStatus.DONE


def describe(trust_file: TrustFile) -> str:
    count = len(trust_file.publishers)
    lines = [
        escape(f"{trust_file.path} ({trust_file.digest}) is a valid trust policy; {count} publisher(s)."),
        "A bundle whose name matches no publisher is refused; one that two publishers match is an error.",
    ]
    for publisher in trust_file.publishers:
        lines += ["", *(escape(line) for line in _publisher_lines(publisher))]
    return "\n".join(lines)


def _publisher_lines(publisher: Publisher) -> list[str]:
    lines = [f"publisher {publisher.name!r}: trusted for bundles named {_either(publisher.bundles)}"]
    systems = [bool(publisher.minisign_keys), bool(publisher.sigstore)]
    if all(systems):
        lines.append("  requires BOTH a minisign and a Sigstore signature, each by a signer below")
    if publisher.minisign_keys:
        lines.append("  minisign: any one of these keys may sign")
        for key in publisher.minisign_keys:
            revoked = " (REVOKED: refused)" if key.key_id in publisher.revoked_keys else ""
            lines.append(f"    key {key.key_id} from {key.path}{revoked}")
    if publisher.revoked_keys:
        lines.append(f"  revoked key ids, refused even when listed: {', '.join(publisher.revoked_keys)}")
    if publisher.sigstore:
        lines.append("  Sigstore: any one of these identities may sign")
        for identity in publisher.sigstore:
            pinned = "" if identity.github_repository is None else f", run by repository {identity.github_repository}"
            shown = f"identities matching {identity.identity}" if "*" in identity.identity else identity.identity
            lines.append(f"    {shown}, issued by {identity.issuer}{pinned}")
    lines.append(f"  provenance: {_provenance(publisher)}")
    lines.append(f"  versions: ordered as {publisher.versioning.spec_name}; install refuses a lower one (rollback)")
    return lines


def _provenance(publisher: Publisher) -> str:
    if not publisher.require_provenance:
        return "not required (a --source-* pin or lock entry may still require it)"
    stated = [
        f"from repository {publisher.source_repo}" if publisher.source_repo else "",
        f"built by {publisher.builder_id}" if publisher.builder_id else "",
    ]
    return ", ".join(["required, signed by the same signers", *filter(None, stated)])


def _either(patterns: tuple[str, ...]) -> str:
    return " or ".join(repr(pattern) for pattern in patterns)
