"""`packseal verify-bundle`: build the trust policy and pin from the options, verify, print the verdict.

A bundle refused under a policy file (`--policy`) is also recorded in the audit log (`signing.audit`).
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signing.cli.options import quiet_option
from signing.cli.trust import TrustOptions, trust_options
from signing.errors import ExitStatus
from signing.layout import bundle_name
from signing.policy import TrustPolicy
from signing.progress import progress_for_terminal
from signing.terminal import escape
from signing.verify import Verdict, verify_bundle, verify_locked_bundle

if TYPE_CHECKING:
    from signing.pins import SourcePin
    from signing.trustfile import TrustFile


@click.command("verify-bundle")
@click.argument("path", type=click.Path(path_type=Path))
@trust_options
@click.option("--source-repo", help="Require provenance from this repository.")
@click.option("--source-commit", help="Require provenance from this full commit id.")
@click.option("--source-ref", help="Require provenance naming this ref.")
@click.option("--builder-id", help="Require provenance from this builder.")
@click.option("--git-checkout", is_flag=True, help="Also require PATH to be in a clean checkout at the pinned commit.")
@click.option("--lock", type=click.Path(dir_okay=False, path_type=Path), help="Pins for many bundles (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@quiet_option
def verify_bundle_command(
    path: Path,
    trust: TrustOptions,
    source_repo: str | None,
    source_commit: str | None,
    source_ref: str | None,
    builder_id: str | None,
    git_checkout: bool,
    lock: Path | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Verify PATH, a bundle directory or single file, before installing it; exit 0 only when it is verified."""
    pin = _source_pin(source_repo, source_commit, source_ref, builder_id, git_checkout, locked=lock is not None)
    policy = trust.policy()
    signatures = trust.signatures()
    with progress_for_terminal(sys.stderr, label="verifying", quiet=quiet or as_json) as progress:
        if lock is not None:
            from signing.pins import LockFile

            verdict = verify_locked_bundle(
                path,
                policy,
                LockFile.read(lock),
                signatures=signatures,
                require_checkout=git_checkout,
                signatures_dir=trust.signatures_dir,
                progress=progress,
            )
        else:
            verdict = verify_bundle(
                path, policy, signatures=signatures, pin=pin, signatures_dir=trust.signatures_dir, progress=progress
            )
    click.echo(json.dumps(verdict.to_json(), indent=2) if as_json else summary(verdict))
    if not verdict.verified and not isinstance(policy, TrustPolicy):
        record_refusal(verdict, policy)
    return ExitStatus.DONE if verdict.verified else ExitStatus.REFUSED


def _source_pin(
    repository: str | None,
    commit: str | None,
    ref: str | None,
    builder_id: str | None,
    require_checkout: bool,
    *,
    locked: bool,
) -> "SourcePin | None":
    """`SourcePin.from_options` of the --source-* options; pins are imported only when an option is given.

    A plain verification, the common case, so starts without them (2 ms).
    """
    if not (locked or require_checkout or any(value is not None for value in (repository, commit, ref, builder_id))):
        return None
    from signing.pins import SourcePin

    return SourcePin.from_options(
        repository, commit, ref=ref, builder_id=builder_id, require_checkout=require_checkout, locked=locked
    )


def record_refusal(verdict: Verdict, policy: "TrustFile") -> None:
    """Append a `verify-refused` event to the audit log: a policy refusal is what an installer's log must show.

    The verdict is printed first, so a log that cannot be written (exit 2,
    one error line) never hides why the bundle was refused.
    """
    from signing.audit import AuditEvent, AuditLog

    refusal = verdict.refusal
    assert refusal is not None
    detail = {
        "publisher": verdict.publisher,
        "check": refusal.name,
        "reason": refusal.detail,
        "path": str(verdict.bundle),
    }
    event = AuditEvent(
        action="verify-refused",
        bundle=bundle_name(verdict.bundle),
        verdict="refused",
        digest=verdict.digest,
        signers=tuple(signer.to_json() for signer in verdict.signers),
        policy_digest=policy.digest,
        detail={key: value for key, value in detail.items() if value is not None},
    )
    AuditLog.default().append(event)


def summary(verdict: Verdict) -> str:
    lines = [f"{'VERIFIED' if verdict.verified else 'REFUSED'} {escape(str(verdict.bundle))}"]
    if verdict.digest:
        lines.append(f"  digest  {escape(verdict.digest)}")
    if verdict.publisher:
        lines.append(f"  publisher  {escape(verdict.publisher)}")
    if verdict.signers:
        lines.append(f"  signer  {escape('; '.join(str(signer) for signer in verdict.signers))}")
    if verdict.version:
        lines.append(f"  version {escape(verdict.version)}")
    for check in verdict.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {escape(check.detail)}")
    return "\n".join(lines)
