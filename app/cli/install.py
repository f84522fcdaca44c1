"""``beacon install records CAMERA_ID``: a camera's install records on this workstation, newest
first, with whether the sync server has each one yet."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.context import CommandContext, CommandError
from app.models.audit_chain import format_time
from app.models.install_record import InstallRecordSyncState
from app.services.install_records import (
    InstallRecordError,
    SavedInstallRecord,
    camera_install_records,
)


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    install = subcommands.add_parser("install", help="field technicians' install records")
    actions = install.add_subparsers(title="install commands", metavar="ACTION", required=True)
    records = actions.add_parser(
        "records",
        parents=[common],
        help="a camera's install records, newest first, and whether the server has them",
    )
    records.add_argument("camera_id")
    records.add_argument("--json", action="store_true", help="one JSON object per record")
    records.set_defaults(handler=run_records)


def _sync_text(record: SavedInstallRecord) -> str:
    if record.sync_state is InstallRecordSyncState.SENT and record.sent_at is not None:
        return f"sent {format_time(record.sent_at)}"
    return "waiting for the server" + (f" ({record.last_error})" if record.last_error else "")


def _document(record: SavedInstallRecord) -> dict[str, Any]:
    return {
        "id": record.record_id,
        "camera_id": record.camera_id,
        "created_at": format_time(record.created_at),
        "verdict": record.verdict.value,
        "technician": record.technician,
        "workstation": record.workstation,
        "snapshots": len(record.snapshots),
        "sync_state": record.sync_state.value,
        "sent_at": format_time(record.sent_at) if record.sent_at is not None else None,
        "last_error": record.last_error,
    }


def run_records(context: CommandContext, args: argparse.Namespace) -> int:
    try:
        records = camera_install_records(context.sessions(), args.camera_id)
    except InstallRecordError as exc:
        raise CommandError(str(exc)) from None
    for record in records:
        if args.json:
            print(json.dumps(_document(record)))
        else:
            print(
                f"{format_time(record.created_at)}  {record.verdict.value.upper():4}  "
                f"{record.technician}  {record.record_id}  {_sync_text(record)}"
            )
    if not records and not args.json:
        print(f"camera {args.camera_id} has no install records on this workstation")
    return 0
