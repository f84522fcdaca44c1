"""``beacon registry import|export``: owners, cameras, policies (and incidents) as CSV or JSON.

The format is documented in ``docs/registry-format.md``. Import exit codes: 0 imported, 1 invalid
rows (nothing imported, unless ``--skip-invalid``), 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType, Outcome
from app.services.registry_io import (
    RegistryFileError,
    apply_import,
    check_document,
    export_registry,
    read_registry_file,
    render_csv,
    render_json,
)

MAX_ERRORS_SHOWN = 200


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    registry = subcommands.add_parser("registry", help="import or export the camera registry")
    actions = registry.add_subparsers(title="registry commands", metavar="ACTION", required=True)

    importer = actions.add_parser(
        "import",
        parents=[common],
        help="import owners, cameras, policies (and incidents) from CSV or JSON "
        "(exit 0 imported, 1 invalid rows, 2 unreadable file)",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="a .csv or .json file")
    importer.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows and list the invalid ones (default: import nothing)",
    )
    importer.set_defaults(handler=run_import)

    exporter = actions.add_parser(
        "export", parents=[common], help="write the registry as CSV or JSON"
    )
    exporter.add_argument("--format", choices=("csv", "json"), default="json")
    exporter.add_argument("--output", type=Path, help="write here instead of standard output")
    exporter.set_defaults(handler=run_export)


def _print_errors(errors: list[Any]) -> None:
    for error in errors[:MAX_ERRORS_SHOWN]:
        print(f"  {error}", file=sys.stderr)
    if len(errors) > MAX_ERRORS_SHOWN:
        print(f"  ... and {len(errors) - MAX_ERRORS_SHOWN} more", file=sys.stderr)


def run_import(context: CommandContext, args: argparse.Namespace) -> int:
    path: Path = args.file
    audit = context.audit_log()
    try:
        document = read_registry_file(path)
    except RegistryFileError as exc:
        audit.record(
            AuditEventType.REGISTRY_IMPORT,
            actor=os_actor(),
            subject=str(path),
            outcome=Outcome.FAILURE,
            reason="unreadable_file",
        )
        raise CommandError(str(exc), exit_code=2) from exc

    details: dict[str, str | int | bool | None] = {
        "format": document.format,
        "skip_invalid": bool(args.skip_invalid),
    }
    with context.sessions()() as session, session.begin():
        checked = check_document(session, document)
        details.update(rows=checked.rows, invalid_rows=checked.invalid_rows)
        if checked.errors and (not args.skip_invalid or not checked.valid):
            audit.record(
                AuditEventType.REGISTRY_IMPORT,
                actor=os_actor(),
                subject=str(path),
                outcome=Outcome.FAILURE,
                reason="invalid_rows",
                details=details,
            )
            print(
                f"beacon: {path}: {checked.invalid_rows} of {checked.rows} rows are invalid; "
                "nothing was imported. Fix them and import again, or use --skip-invalid to "
                "import the valid rows only:",
                file=sys.stderr,
            )
            _print_errors(checked.errors)
            return 1  # nothing was written: leaving the block commits an empty transaction
        counts = apply_import(session, checked.valid, context.clock)
        details.update(counts.as_details())
        # Recorded inside the transaction: if the audit log cannot take it, nothing is imported.
        audit.record(
            AuditEventType.REGISTRY_IMPORT,
            actor=os_actor(),
            subject=str(path),
            details=details,
        )
    if checked.errors:
        print(
            f"beacon: skipped {checked.invalid_rows} invalid rows of {checked.rows}:",
            file=sys.stderr,
        )
        _print_errors(checked.errors)
    verb = "imported" if counts.changed else "nothing to change in"
    print(f"{verb} {path} ({document.format}): {counts.describe()}")
    return 0


def run_export(context: CommandContext, args: argparse.Namespace) -> int:
    if not context.settings.registry_db.exists():
        raise CommandError(
            f"{context.data_dir} has no registry to export (no {context.settings.registry_db.name}"
            "); check --data-dir",
            exit_code=2,
        )
    with context.sessions()() as session:
        snapshot = export_registry(session)
    warnings: list[str] = []
    if args.format == "json":
        text = render_json(snapshot)
    else:
        text, warnings = render_csv(snapshot)
    # The export is recorded before any of it leaves the program.
    context.audit_log().record(
        AuditEventType.REGISTRY_EXPORT,
        actor=os_actor(),
        subject=str(args.output or "stdout"),
        details={"format": args.format, **snapshot.counts()},
    )
    for warning in warnings:
        print(f"beacon: warning: {warning}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{count} {name}" for name, count in snapshot.counts().items())
        print(f"exported {counts} to {args.output}", file=sys.stderr)
    return 0
