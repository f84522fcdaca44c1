"""``beacon audit verify|export``: check the chain, and export events for owners and supervisors."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType, Outcome
from app.services.audit_log import AuditLogUnavailable, export_events, read_events, verify_file


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
    if path.resolve() != context.settings.audit_db.resolve() or context.settings.audit_db.exists():
        context.audit_log().record(
            AuditEventType.AUDIT_READ,
            actor=os_actor(),
            subject=str(path),
            outcome=Outcome.SUCCESS if verdict.intact else Outcome.FAILURE,
            details={"action": "verify", "events": verdict.count},
        )
    if verdict.intact:
        print(f"audit log intact: {verdict.count} events ({path})")
        return 0
    print(
        f"audit log TAMPERED: first bad sequence number {verdict.first_bad_seq} "
        f"({verdict.problem}); {verdict.count} events before it verify ({path})"
    )
    return 1


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
