"""Case packages as the workstation exports them from the evidence server's vault.

``export_case_package`` asks the server for an incident's case package (its clips, their chain
of custody, signed with the agency's Ed25519 key: ``app.evidence.package``), streams it into a
temporary file beside ``out_path`` while hashing it, checks it with ``verify_package`` against
the agency key this workstation pinned, and only then puts it at ``out_path`` (never over an
existing file) and writes the ``export`` audit event: the purpose, the CAD number, the package's
SHA-256 and its clip count. The server logs the export in every clip's custody log before it
hands the package out; a package that then fails here (cut off, or not intact) is deleted and
the failure audited too, so the local log says what the server's custody log implies.

The agency key is pinned at the first export (``GET /v1/agency-key``) in ``agency-key.json`` in
the data directory, beside the audit sync client's pinned checkpoint key (``audit-sync.json``),
and never fetched again: a package signed with any other key is refused. To trust a key the
agency replaced on purpose, delete that file. Qt-free; the console runs it in a background job.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.evidence.agency_key import AgencyKeyError, fingerprint, parse_public_key
from app.evidence.package import PackageReport, PackageUnreadable, verify_package
from app.models.audit_chain import AuditEventType, DetailValue, Outcome, format_time, parse_time
from app.services.audit_log import AuditLog
from app.services.credentials import CredentialStore
from app.services.sync_link import (
    HashingWriter,
    ServerAnswer,
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    answer_detail,
    refusal_text,
    required_token,
    sync_token_name,
)
from app.settings import Settings

log = logging.getLogger(__name__)

AGENCY_KEY_FILE = "agency-key.json"  # in the data directory, beside audit-sync.json
PIN_FORMAT = 1
EXPORT_TIMEOUT_S = 600.0  # the server writes the whole package before it answers
AGENCY_KEY_PATH = "/v1/agency-key"


class CaseExportError(Exception):
    """No package was exported; the message says why and what to do."""


class CaseExportUnavailable(CaseExportError):
    """The evidence server cannot be reached now: try again later."""


class PackageNotIntact(CaseExportError):
    """The package the server sent does not verify; it was deleted. ``report`` says why."""

    def __init__(self, message: str, report: PackageReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True, slots=True)
class PinnedAgencyKey:
    """The agency's public key as this workstation pinned it at its first export."""

    public_key: Ed25519PublicKey
    fingerprint: str
    server_url: str
    pinned_at: datetime


@dataclass(frozen=True, slots=True)
class CasePackageExport:
    """A package written to ``path`` and verified against ``key``."""

    path: Path
    sha256: str
    size: int
    report: PackageReport
    key: PinnedAgencyKey
    newly_pinned: bool  # this export pinned the key: show its fingerprint to compare

    @property
    def clip_count(self) -> int:
        return len(self.report.clips)


class AgencyKeyPin:
    """The pinned agency key in a small JSON file, written once, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> PinnedAgencyKey | None:
        """The pinned key, None when none is pinned yet; CaseExportError when the file is
        damaged (never pinned again silently: that is what a pin is for)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise self._damaged(str(exc)) from None
        try:
            if data["format"] != PIN_FORMAT:
                raise ValueError(f"format {data['format']}")
            key = parse_public_key(data["public_key_pem"].encode("ascii"), str(self.path))
            if fingerprint(key) != data["fingerprint"]:
                raise ValueError("the key does not have the pinned fingerprint")
            return PinnedAgencyKey(
                key, data["fingerprint"], data["server_url"], parse_time(data["pinned_at"])
            )
        except (KeyError, TypeError, ValueError, AttributeError, AgencyKeyError) as exc:
            raise self._damaged(str(exc)) from None

    def _damaged(self, why: str) -> CaseExportError:
        return CaseExportError(
            f"the pinned agency key {self.path} cannot be read ({why}); if the agency's key "
            "did not change, restore the file from a backup, else delete it to pin the key the "
            "server gives at the next export"
        )

    def save(self, key: PinnedAgencyKey, public_key_pem: str) -> None:
        data = {
            "format": PIN_FORMAT,
            "fingerprint": key.fingerprint,
            "public_key_pem": public_key_pem,
            "server_url": key.server_url,
            "pinned_at": format_time(key.pinned_at),
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


class CaseExport:
    """One export: the server's answer into a verified file at ``out_path``, audited."""

    def __init__(
        self,
        connection: SyncConnection,
        token: TokenSource,
        audit: AuditLog,
        actor: str,
        pin: AgencyKeyPin,
        timeout_s: float = EXPORT_TIMEOUT_S,
    ) -> None:
        self._server = connection.server_url
        self._link = ServerLink(
            replace(connection, read_timeout_s=max(connection.read_timeout_s, timeout_s))
        )
        self._token = token
        self._audit = audit
        self._actor = actor
        self._pin = pin

    def _call_token(self) -> str:
        try:
            return required_token(self._token, "the evidence server")
        except SyncStalled as exc:
            raise CaseExportError(f"{exc.reason}: {exc.detail}") from None

    def _unreachable(self, exc: ServerUnreachable) -> CaseExportUnavailable:
        return CaseExportUnavailable(
            f"the evidence server at {self._server} cannot be reached ({exc}); nothing was "
            "exported: try again when it is back"
        )

    def _refused(self, answer: ServerAnswer, cad_number: str) -> CaseExportError:
        text = refusal_text(
            answer, forbidden="export evidence", refused=f"the case package of {cad_number}"
        )
        return CaseExportError(f"{text}; nothing was exported")

    def agency_key(self, token: str) -> tuple[PinnedAgencyKey, bool]:
        """The pinned agency key, pinned now from the server if none is yet (and True)."""
        pinned = self._pin.load()
        if pinned is not None:
            return pinned, False
        try:
            answer = self._link.request("GET", AGENCY_KEY_PATH, token)
        except ServerUnreachable as exc:
            raise self._unreachable(exc) from None
        except SyncStalled as exc:
            raise CaseExportError(f"{exc.reason}: {exc.detail}") from None
        if answer.status != 200:
            raise CaseExportError(
                f"the evidence server gives no agency key (GET {AGENCY_KEY_PATH}: "
                f"{answer_detail(answer)}); the server must be upgraded"
            )
        try:
            pem = answer.body["public_key_pem"]
            key = parse_public_key(pem.encode("ascii"), "the server's agency key")
            if fingerprint(key) != answer.body["fingerprint"]:
                raise ValueError("the key does not have the fingerprint the server gives")
        except (KeyError, TypeError, ValueError, AttributeError, AgencyKeyError) as exc:
            raise CaseExportError(
                f"the evidence server's agency key is not one this workstation reads ({exc}); "
                "nothing was exported"
            ) from None
        pinned = PinnedAgencyKey(key, fingerprint(key), self._server, self._audit.now())
        try:
            self._pin.save(pinned, pem)
        except OSError as exc:
            raise CaseExportError(
                f"the agency key cannot be pinned in {self._pin.path} ({exc.strerror or exc}); "
                "nothing was exported"
            ) from exc
        log.info("pinned the agency key %s from %s", pinned.fingerprint, self._server)
        return pinned, True

    def export(
        self,
        cad_number: str,
        purpose: str,
        out_path: Path,
        evidence_ids: list[str] | None = None,
    ) -> CasePackageExport:
        if out_path.exists():
            raise CaseExportError(
                f"{out_path} exists already; a case package is never written over: choose "
                "another name"
            )
        token = self._call_token()
        key, newly_pinned = self.agency_key(token)
        try:
            descriptor, name = tempfile.mkstemp(
                prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent
            )
        except OSError as exc:
            raise CaseExportError(
                f"cannot write in {out_path.parent} ({exc.strerror or exc}); choose a folder "
                "you can write to"
            ) from exc
        temporary = Path(name)
        try:
            package = HashingWriter(descriptor)
            try:
                answer = self._fetch(cad_number, purpose, evidence_ids, token, package)
                os.fsync(descriptor)
            except OSError as exc:
                self._failed(cad_number, purpose, "not_written", str(exc), package)
                raise CaseExportError(
                    f"the case package could not be written in {out_path.parent} "
                    f"({exc.strerror or exc}); free disk space or choose another folder"
                ) from exc
            finally:
                os.close(descriptor)
            if answer.status != 200:
                raise self._refused(answer, cad_number)
            report = self._verified(temporary, key, cad_number, purpose, package)
            self._publish(temporary, out_path, cad_number, purpose, package, report)
        finally:
            temporary.unlink(missing_ok=True)
        return CasePackageExport(out_path, package.sha256, package.size, report, key, newly_pinned)

    def _fetch(
        self,
        cad_number: str,
        purpose: str,
        evidence_ids: list[str] | None,
        token: str,
        package: HashingWriter,
    ) -> ServerAnswer:
        body = {"purpose": purpose, **({"evidence_ids": evidence_ids} if evidence_ids else {})}
        try:
            return self._link.download(
                f"/v1/incidents/{quote(cad_number, safe='')}/case-package",
                token,
                package,
                method="POST",
                body=json.dumps(body).encode(),
            )
        except ServerUnreachable as exc:
            if package.size:  # the server logged the export: so does this workstation
                self._failed(cad_number, purpose, "transfer_failed", str(exc), package)
            raise self._unreachable(exc) from None
        except SyncStalled as exc:
            raise CaseExportError(f"{exc.reason}: {exc.detail}") from None
        finally:
            self._link.close()

    def _verified(
        self,
        temporary: Path,
        key: PinnedAgencyKey,
        cad_number: str,
        purpose: str,
        package: HashingWriter,
    ) -> PackageReport:
        try:
            report = verify_package(temporary, key.public_key)
        except PackageUnreadable as exc:
            self._failed(cad_number, purpose, "not_written", str(exc), package)
            raise CaseExportError(f"the received package cannot be read back: {exc}") from exc
        if report.intact and report.incident != cad_number:
            report.problem(
                "manifest.json", f"is the package of {report.incident}, not {cad_number}"
            )
        if not report.intact:
            problems = "; ".join(str(problem) for problem in report.problems)
            self._failed(cad_number, purpose, "package_not_intact", problems, package)
            raise PackageNotIntact(
                f"the case package the server sent for {cad_number} does not verify against "
                f"the agency key {key.fingerprint} this workstation pinned; it was deleted. "
                "Tell the evidence server's administrator",
                report,
            )
        return report

    def _publish(
        self,
        temporary: Path,
        out_path: Path,
        cad_number: str,
        purpose: str,
        package: HashingWriter,
        report: PackageReport,
    ) -> None:
        """Link the verified package into place (never over a file), then audit it; if the
        audit event cannot be written the file goes again: no package without its event."""
        try:
            os.link(temporary, out_path)
        except FileExistsError:
            self._failed(cad_number, purpose, "not_written", f"{out_path} exists", package)
            raise CaseExportError(
                f"{out_path} appeared while the package was received; it was left alone: "
                "choose another name"
            ) from None
        except OSError as exc:
            self._failed(cad_number, purpose, "not_written", str(exc), package)
            raise CaseExportError(
                f"cannot write {out_path} ({exc.strerror or exc}); choose a folder you can write to"
            ) from exc
        try:
            self._audit.record(
                AuditEventType.EXPORT,
                actor=self._actor,
                subject=out_path.name,
                purpose=purpose,
                details=self._details(cad_number, package)
                | {
                    "clips": len(report.clips),
                    "package_id": report.package_id,
                    "agency_key": report.key_fingerprint,
                    "path": str(out_path),
                },
            )
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise

    @staticmethod
    def _details(cad_number: str, package: HashingWriter) -> dict[str, DetailValue]:
        return {
            "kind": "case_package",
            "incident": cad_number,
            "sha256": package.sha256,
            "bytes": package.size,
        }

    def _failed(
        self, cad_number: str, purpose: str, reason: str, error: str, package: HashingWriter
    ) -> None:
        self._audit.record(
            AuditEventType.EXPORT,
            actor=self._actor,
            outcome=Outcome.FAILURE,
            subject=f"case package of {cad_number}",
            purpose=purpose,
            reason=reason,
            details=self._details(cad_number, package) | {"error": error},
        )


def export_case_package(
    connection: SyncConnection,
    token: TokenSource,
    audit: AuditLog,
    actor: str,
    cad_number: str,
    purpose: str,
    out_path: Path,
    pin: AgencyKeyPin,
    *,
    evidence_ids: list[str] | None = None,
    timeout_s: float = EXPORT_TIMEOUT_S,
) -> CasePackageExport:
    """Export ``cad_number``'s evidence (or the files ``evidence_ids``) from the server into
    ``out_path``, verified against the agency key ``pin`` holds (pinned now if it holds none)
    and audited. Raises CaseExportUnavailable (server down), PackageNotIntact (the package did
    not verify: deleted) or CaseExportError (anything else a person must act on)."""
    export = CaseExport(connection, token, audit, actor, pin, timeout_s)
    return export.export(cad_number, purpose, out_path, evidence_ids)


def export_for_workstation(
    settings: Settings,
    credentials: CredentialStore,
    audit: AuditLog,
    actor: str,
    cad_number: str,
    purpose: str,
    out_path: Path,
    *,
    evidence_ids: list[str] | None = None,
) -> CasePackageExport:
    """``export_case_package`` from the server ``[sync]`` names, with the workstation's token
    from the keyring and the agency key pinned in the data directory."""
    connection = SyncConnection.from_settings(settings)
    if connection is None:
        raise CaseExportError(
            "no evidence server is configured: set server_url under [sync] in the settings and "
            "store this workstation's token with `beacon sync token`"
        )
    name = sync_token_name(settings)
    return export_case_package(
        connection,
        lambda: credentials.get_secret(name),
        audit,
        actor,
        cad_number,
        purpose,
        out_path,
        AgencyKeyPin(settings.data_dir / AGENCY_KEY_FILE),
        evidence_ids=evidence_ids,
    )
