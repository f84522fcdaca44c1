"""``beacon audit verify|export``: check the chain, and export events for owners and supervisors.

``beacon audit verify --against-server`` also checks the log against the sync server's signed
checkpoints (``app.services.audit_server_check``): one line per check, exit 0 when all pass, 1
when one fails (the log or the server's copy is not what was signed), 2 when one could not run
(no state file, the server down, no token) and none failed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType, ChainVerdict, DetailValue, Outcome
from app.services.audit_log import AuditLogUnavailable, export_events, read_events, verify_file
from app.services.audit_server_check import CheckResult, CheckStatus, check_against_server
from app.services.audit_sync import STATE_FILE
from app.services.credentials import (
    CredentialStore,
    CredentialStoreError,
    InsecureKeyringError,
)
from app.services.sync_link import SyncConnection, sync_token_name


def _iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    audit = subcommands.add_parser("audit", help="verify or export the audit log")
    actions = audit.add_subparsers(title="audit commands", metavar="ACTION", required=True)

    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check the hash chain (exit 0 intact, 1 tampered, 2 unusable)",
    )
    verify.add_argument("--db", type=Path, help="audit log file (default: the data dir's)")
    verify.add_argument(
        "--against-server",
        action="store_true",
        help="also check the log against the sync server's signed checkpoints (catches a log "
        "cut short or rewritten after the server acknowledged it)",
    )
    verify.set_defaults(handler=run_verify)

    export = actions.add_parser("export", parents=[common], help="export events as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--since", type=_iso_time, help="from this time (ISO 8601, inclusive)")
    export.add_argument("--until", type=_iso_time, help="up to this time (ISO 8601, exclusive)")
    export.add_argument("--output", type=Path, help="write here instead of standard output")
    export.add_argument("--db", type=Path, help="audit log file (default: the data dir's)")
    export.set_defaults(handler=run_export)


def run_verify(context: CommandContext, args: argparse.Namespace) -> int:
    path: Path = args.db or context.settings.audit_db
    try:
        verdict = verify_file(path)
    except AuditLogUnavailable as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    results = _verify_against_server(context, path, verdict) if args.against_server else []
    if path.resolve() != context.settings.audit_db.resolve() or context.settings.audit_db.exists():
        details: dict[str, DetailValue] = {"action": "verify", "events": verdict.count}
        intact = verdict.intact
        if args.against_server:
            failed = [result.name for result in results if result.status is CheckStatus.FAILED]
            details["against_server"] = context.settings.sync.server_url
            details["checks_failed"] = ", ".join(failed) or None
            intact = intact and not failed
        context.audit_log().record(
            AuditEventType.AUDIT_READ,
            actor=os_actor(),
            subject=str(path),
            outcome=Outcome.SUCCESS if intact else Outcome.FAILURE,
            details=details,
        )
    if args.against_server:
        return _verdict(results)
    if verdict.intact:
        print(f"audit log intact: {verdict.count} events ({path})")
        return 0
    print(
        f"audit log TAMPERED: first bad sequence number {verdict.first_bad_seq} "
        f"({verdict.problem}); {verdict.count} events before it verify ({path})"
    )
    return 1


def _verify_against_server(
    context: CommandContext, path: Path, verdict: ChainVerdict
) -> list[CheckResult]:
    """Run and print the checks against the sync server, the local chain's first."""
    settings = context.settings
    if verdict.intact:
        local = CheckResult(
            "local chain", CheckStatus.OK, f"{verdict.count} events intact ({path})"
        )
    else:
        local = CheckResult(
            "local chain",
            CheckStatus.FAILED,
            f"first bad sequence number {verdict.first_bad_seq} ({verdict.problem}); "
            f"{verdict.count} events before it verify ({path})",
        )
    results = [local]
    print(local.line(), flush=True)
    connection = SyncConnection.from_settings(settings)
    if connection is None:
        skipped = CheckResult(
            "server checks",
            CheckStatus.NOT_RUN,
            "no server_url under [sync] in the settings: this workstation does not sync",
        )
        print(skipped.line())
        return [*results, skipped]
    name = sync_token_name(settings)

    def token() -> str | None:
        try:
            return CredentialStore.for_settings(settings).get_secret(name)
        except InsecureKeyringError as exc:
            raise CredentialStoreError(str(exc)) from None

    for result in check_against_server(
        audit_path=path,
        state_path=settings.data_dir / STATE_FILE,
        connection=connection,
        workstation_id=settings.sync_workstation_id,
        token=token,
    ):
        print(result.line(), flush=True)
        results.append(result)
    return results


def _verdict(results: list[CheckResult]) -> int:
    statuses = {result.status for result in results}
    if CheckStatus.FAILED in statuses:
        print("audit log verification FAILED: see the FAILED checks above")
        return 1
    if CheckStatus.NOT_RUN in statuses:
        print("audit log not fully verified: some checks could not run (see above)")
        return 2
    print("audit log intact and as the sync server signed it")
    return 0


def run_export(context: CommandContext, args: argparse.Namespace) -> int:
    path: Path = args.db or context.settings.audit_db
    try:
        rows = list(read_events(path, args.since, args.until))
    except AuditLogUnavailable as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    # The export is recorded before any of it leaves the program.
    context.audit_log().record(
        AuditEventType.AUDIT_EXPORT,
        actor=os_actor(),
        subject=str(args.output or "stdout"),
        details={
            "format": args.format,
            "events": len(rows),
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
        },
    )
    text = export_events(rows, args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"exported {len(rows)} events to {args.output}", file=sys.stderr)
    return 0
