"""``beacon evidence verify PACKAGE [--key PUBLIC_KEY_PEM] [--json]``: is a case package untouched?

Checks the package's signature, the key that made it, and every clip's SHA-256 and size against
the signed manifest (``app.evidence.package``), and prints a one-line verdict or every
problem, one line each. Exit 0 intact, 1 touched or invalid, 2 the package or the key could not
be read. It needs no Beacon data, so a prosecutor's or a court's machine runs it as it is, and
it writes nothing (not even an audit event: the package is not the agency's to log once it left).

``beacon evidence export CAD --purpose TEXT --out FILE [--evidence ID ...]``: the agency's side.
The evidence server builds the incident's case package and logs the export in each clip's
custody log; this workstation verifies it against the agency key it pinned at its first export
(``app.services.case_export``), writes it to FILE (never over a file) and audits the export.
Exit 0 exported and intact, 1 the package did not verify (deleted), 2 nothing exported (the
server down or refusing, no token, FILE exists).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.evidence.agency_key import AgencyKeyError, read_public_key, short_fingerprint
from app.evidence.package import (
    KeyStatus,
    PackageReport,
    PackageUnreadable,
    verify_package,
)
from app.services.case_export import (
    CaseExportError,
    PackageNotIntact,
    export_for_workstation,
)
from app.services.credentials import CredentialStore, InsecureKeyringError


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    evidence = subcommands.add_parser("evidence", help="export and check signed case packages")
    actions = evidence.add_subparsers(title="evidence commands", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check a case package: its signature, signing key and every clip's SHA-256 "
        "(exit 0 intact, 1 touched or invalid, 2 could not be read)",
    )
    verify.add_argument("package", type=Path, metavar="PACKAGE", help="the case package (.zip)")
    verify.add_argument(
        "--key",
        type=Path,
        metavar="PUBLIC_KEY_PEM",
        help="the agency's public key (PEM), as the agency gave it (not the copy inside the "
        "package): check the package was signed with it",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=run_verify)

    export = actions.add_parser(
        "export",
        parents=[common],
        help="export an incident's evidence from the evidence server as a signed case package "
        "(exit 0 exported and intact, 1 not intact, 2 nothing exported)",
    )
    export.add_argument("cad_number", metavar="CAD", help="the incident's CAD number")
    export.add_argument(
        "--purpose",
        required=True,
        help="why it leaves the agency (a case number, a court order): logged with the export",
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the package to write (.zip)"
    )
    export.add_argument(
        "--evidence",
        action="append",
        metavar="ID",
        help="export only this file of the incident (repeat for more; default: all of them)",
    )
    export.set_defaults(handler=run_export)


def run_verify(_context: CommandContext, args: argparse.Namespace) -> int:
    expected = None
    if args.key is not None:
        try:
            expected = read_public_key(args.key)
        except AgencyKeyError as exc:
            raise CommandError(f"--key: {exc}", exit_code=2) from exc
    try:
        report = verify_package(args.package, expected)
    except PackageUnreadable as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    print(json.dumps(report.to_dict(), indent=2) if args.json else summary(report))
    return 0 if report.intact else 1


def summary(report: PackageReport) -> str:
    """The verdict for a person: one line when intact, else every problem on a line of its own."""
    if not report.intact:
        count = len(report.problems)
        lines = [f"package NOT intact: {count} problem{'s' * (count != 1)} in {report.path}"]
        return "\n".join([*lines, *(f"  {problem}" for problem in report.problems)])
    clips = len(report.clips)
    fingerprint = report.key_fingerprint or ""
    verdict = (
        f"package intact: {clips} clip{'s' * (clips != 1)}, {_size(report.clip_bytes)}, "
        f"signed by agency key {short_fingerprint(fingerprint)}"
    )
    if report.signing_key is KeyStatus.PINNED:
        return f"{verdict} (your agency's key, --key)"
    return (
        f"{verdict}\nnot pinned: pass --key with your agency's public key to check this is your "
        f"agency's key (this one's fingerprint: {fingerprint})"
    )


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def run_export(context: CommandContext, args: argparse.Namespace) -> int:
    settings = context.settings
    purpose = args.purpose.strip()
    if not purpose:
        raise CommandError("--purpose: say why the evidence leaves the agency (e.g. case:24-1187)")
    try:
        credentials = CredentialStore.for_settings(settings)
    except InsecureKeyringError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    try:
        exported = export_for_workstation(
            settings,
            credentials,
            context.audit_log(),
            os_actor(),
            args.cad_number,
            purpose,
            args.out,
            evidence_ids=args.evidence,
        )
    except PackageNotIntact as exc:
        print(summary(exc.report))
        raise CommandError(str(exc), exit_code=1) from None
    except CaseExportError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    report = exported.report
    clips = exported.clip_count
    print(
        f"exported the case package of {args.cad_number} to {exported.path}: {clips} "
        f"clip{'s' * (clips != 1)}, {_size(report.clip_bytes)}"
    )
    print(
        f"package intact: signed by the agency key {short_fingerprint(exported.key.fingerprint)} "
        "this workstation pinned"
    )
    print(f"package SHA-256 {exported.sha256}")
    if exported.newly_pinned:
        print(
            f"pinned the agency key {exported.key.fingerprint} from {exported.key.server_url} "
            "(the first export here): compare it with the fingerprint your agency published"
        )
    return 0
