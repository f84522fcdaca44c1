"""Footage requests to camera owners: drafted per camera, e-mailed per owner, answered or expired.

The operator picks cameras of an incident's geofence (registered-only ones, and integrated ones
whose policy does not allow a live feed) and a time window; ``draft_requests`` makes one
request per camera. ``send_requests`` e-mails the drafted requests of an incident, one message
per owner listing that owner's cameras and addressed to that owner alone, worded by the e-mail
template with times in the owner's time zone. ``record_answer`` notes the owner's answer and
``expire_requests`` ends the wait for owners who never answered. ``read_request_rows`` lists an
incident's requests as plain values for the UI. The console runs all of these in background
jobs with a fresh session each; no Qt here.

Windows: both ends timezone-aware, start before end, no longer than ``[footage]
max_window_hours``, and only time that has passed: an end after now is cut to now (what "until
now" means; the request shows the window actually asked for), a start after now is refused.

Audit: every change of a request's status is an event, written before the change is committed,
so a failing audit log stops the change (fail closed). A send writes "sending" events before the
message goes out and "sent" or the failure after, so no message can leave unrecorded; a failed
send leaves the requests drafted with the error on them (``last_error``) and nothing lost.

Privacy: an owner's e-mail address, phone number and name reach the owner's own mailbox and the
operator's screen (``FootageRequestRow``, ``OwnerSendResult``, which keep them out of their
``repr``), never an audit event, a log line or an exception text; those name the owner by id.
The operator's ``note`` is internal and is not e-mailed; neither it nor the answer's note is
audited, since free text may hold contact details.
"""

from __future__ import annotations

import logging
import string
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.audit_chain import AuditEventType, DetailValue, Outcome, format_time
from app.models.camera import Camera
from app.models.footage_request import (
    ANSWERABLE,
    ANSWERS,
    OPEN_STATUSES,
    FootageRequest,
    FootageRequestStatus,
)
from app.models.incident import Incident
from app.models.owner import Owner
from app.models.policy import Purpose, PurposeKind
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.smtp_mailer import MailDeliveryError, SmtpConnection, SmtpMailer
from app.services.upload_links import UploadLinkError, UploadLinks
from app.settings import FootageSettings

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]

EMAIL_TEMPLATE_FILE = "footage_request_email.txt"  # in resources/: [footage] email_template
TEMPLATE_FIELDS = frozenset(
    {
        "agency_name",
        "owner_name",
        "cad_number",
        "incident_type",
        "incident_address",
        "window_start",
        "window_end",
        "time_zone",
        "cameras",
        "requester",
        "reply_to",
        "reply_instructions",
        "reference",
    }
)
MAX_NOTE_LENGTH = 2000


class FootageRequestError(Exception):
    """A request that cannot be made, sent or answered; the message says why and what to do."""


class FootageRequestNotFound(FootageRequestError, LookupError):
    """No such incident, camera or request in the registry."""


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """The wording of a request e-mail: ``string.Template`` text with ``TEMPLATE_FIELDS``."""

    source: str
    text: str

    @classmethod
    def load(cls, path: Path) -> EmailTemplate:
        """Read and check a template; an unknown ``$field`` is an error that names it."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FootageRequestError(
                f"the footage request e-mail template {path} cannot be read ({exc}); fix or "
                "remove email_template under [footage]"
            ) from exc
        template = string.Template(text)
        if not template.is_valid():
            raise FootageRequestError(
                f"the footage request e-mail template {path} has a $ that starts no field; "
                "write $$ for a dollar sign"
            )
        unknown = sorted(set(template.get_identifiers()) - TEMPLATE_FIELDS)
        if unknown:
            raise FootageRequestError(
                f"the footage request e-mail template {path} uses "
                f"{', '.join('$' + name for name in unknown)}, which it cannot be given; the "
                f"fields are {', '.join('$' + name for name in sorted(TEMPLATE_FIELDS))}"
            )
        return cls(str(path), text)

    def render(self, fields: Mapping[str, str]) -> str:
        return string.Template(self.text).substitute(fields)


@dataclass(frozen=True, slots=True)
class FootageRequestRow:
    """One request as the incident's footage request list shows it (times in UTC)."""

    request_id: int
    reference: str
    cad_number: str
    camera_id: str
    camera_name: str
    camera_address: str
    owner_id: str
    owner_name: str = field(repr=False)  # like all of the owner's details, kept out of logs
    status: FootageRequestStatus
    window_start: datetime
    window_end: datetime
    requested_by: str
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    answered_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None  # why the last send failed; None once one succeeded
    note: str
    answer_note: str
    can_send: bool  # drafted, and the owner has an e-mail address
    can_answer: bool  # sent or expired: an answer may be recorded
    # Why a drafted request cannot be e-mailed, with the owner's phone number to call instead:
    # for the operator's screen only, so out of repr and any log line that prints a row.
    cannot_send_reason: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class OwnerSendResult:
    """What ``send_requests`` did for one owner's requests."""

    owner_id: str
    references: tuple[str, ...]
    sent: bool
    # For the operator: the owner's name, and the phone number when there is no e-mail address.
    message: str = field(repr=False)


def check_window(
    start: datetime, end: datetime, now: datetime, max_window: timedelta
) -> tuple[datetime, datetime]:
    """The window to request, in UTC, its end cut to ``now`` (module docstring)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise FootageRequestError("the time window needs timezone-aware times")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise FootageRequestError(
            f"the window ends ({_utc_text(end)}) before it starts ({_utc_text(start)}): "
            "give a start before the end"
        )
    if start >= now:
        raise FootageRequestError(
            f"the window starts at {_utc_text(start)}, after now: only recorded time can be "
            "requested"
        )
    end = min(end, now)
    if end - start > max_window:
        hours = max_window.total_seconds() / 3600
        raise FootageRequestError(
            f"the window is {_duration_text(end - start)} long; owners are asked for at most "
            f"{hours:g} hours at a time ([footage] max_window_hours): narrow it or make "
            "several requests"
        )
    return start, end


def _utc_text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _duration_text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _mail_address(owner: Owner) -> str | None:
    """The owner's address if it can go into an envelope as it is, else None."""
    address = owner.email.strip()
    _, parsed = parseaddr(address)
    local, at, domain = parsed.partition("@")
    if parsed != address or not (local and at and domain) or any(c.isspace() for c in address):
        return None
    return address


def cannot_send_reason(owner: Owner) -> str | None:
    """Why this owner cannot be e-mailed and what to do instead; for the operator only."""
    if _mail_address(owner) is not None:
        return None
    missing = "no e-mail address" if not owner.email.strip() else "an unusable e-mail address"
    if owner.phone.strip():
        return f"{owner.name} has {missing}: call {owner.phone.strip()} instead"
    return (
        f"{owner.name} has {missing} and no phone number: add contact details to the owner "
        "in the registry"
    )


def _incident(session: Session, cad_number: str) -> Incident:
    incident = session.scalar(select(Incident).where(Incident.cad_number == cad_number))
    if incident is None:
        raise FootageRequestNotFound(
            f"no incident {cad_number!r} in the registry; nothing was changed"
        )
    return incident


def _cameras(session: Session, camera_ids: Collection[str]) -> dict[str, Camera]:
    cameras = session.scalars(
        select(Camera).where(Camera.id.in_(camera_ids)).options(selectinload(Camera.owner))
    )
    return {camera.id: camera for camera in cameras}


def _row(request: FootageRequest, camera: Camera, cad_number: str) -> FootageRequestRow:
    reason = cannot_send_reason(camera.owner)
    drafted = request.status is FootageRequestStatus.DRAFTED
    return FootageRequestRow(
        request_id=request.id,
        reference=request.reference,
        cad_number=cad_number,
        camera_id=camera.id,
        camera_name=camera.name,
        camera_address=camera.address,
        owner_id=camera.owner_id,
        owner_name=camera.owner.name,
        status=request.status,
        window_start=request.window_start,
        window_end=request.window_end,
        requested_by=request.requested_by,
        created_at=request.created_at,
        sent_at=request.sent_at,
        expires_at=request.expires_at,
        answered_at=request.answered_at,
        last_attempt_at=request.last_attempt_at,
        last_error=request.last_error,
        note=request.note,
        answer_note=request.answer_note,
        can_send=drafted and reason is None,
        can_answer=request.status in ANSWERABLE,
        cannot_send_reason=reason if drafted else None,
    )


def _record(
    audit: AuditLog,
    actor: str,
    cad_number: str,
    request: FootageRequest,
    camera: Camera,
    status: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    reason: str | None = None,
    details: Mapping[str, DetailValue] | None = None,
) -> None:
    audit.record(
        AuditEventType.FOOTAGE_REQUEST,
        actor=actor,
        outcome=outcome,
        subject=camera.name,
        camera_id=camera.id,
        purpose=str(Purpose(PurposeKind.INCIDENT, cad_number)),
        reason=reason,
        details={
            "incident": cad_number,
            "request": request.reference,
            "owner": camera.owner_id,
            "status": status,
            **(details or {}),
        },
    )


def draft_requests(
    sessions: SessionFactory,
    audit: AuditLog,
    actor: SignedInUser,
    cad_number: str,
    camera_ids: Sequence[str],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    footage: FootageSettings,
    note: str = "",
) -> list[FootageRequestRow]:
    """One drafted request per camera, each audited; all of them or, on any error, none."""
    start, end = check_window(
        window_start, window_end, now, timedelta(hours=footage.max_window_hours)
    )
    wanted = list(dict.fromkeys(camera_ids))
    if not wanted:
        raise FootageRequestError("choose at least one camera to request footage from")
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise FootageRequestError(
            f"the note has {len(note)} characters; keep it to {MAX_NOTE_LENGTH}"
        )
    with sessions() as session:
        incident = _incident(session, cad_number)
        cameras = _cameras(session, wanted)
        unknown = [camera_id for camera_id in wanted if camera_id not in cameras]
        if unknown:
            raise FootageRequestNotFound(
                f"no camera {', '.join(unknown)} in the registry (removed meanwhile?); "
                "nothing was requested"
            )
        overlapping = session.scalars(
            select(FootageRequest).where(
                FootageRequest.incident_id == incident.id,
                FootageRequest.camera_id.in_(wanted),
                FootageRequest.status.in_(OPEN_STATUSES),
                FootageRequest.window_start < end,
                FootageRequest.window_end > start,
            )
        ).first()
        if overlapping is not None:
            raise FootageRequestError(
                f"{cameras[overlapping.camera_id].name} already has a {overlapping.status} "
                f"request for this incident ({overlapping.reference}) covering part of this "
                "window: nothing was requested; leave that camera out or change the window"
            )
        requests = [
            FootageRequest(
                incident_id=incident.id,
                camera_id=camera_id,
                window_start=start,
                window_end=end,
                status=FootageRequestStatus.DRAFTED,
                requested_by=actor.username,
                created_at=now,
                note=note,
            )
            for camera_id in wanted
        ]
        session.add_all(requests)
        session.flush()  # gives the requests their ids, hence their references
        for request in requests:
            _record(
                audit,
                actor.username,
                cad_number,
                request,
                cameras[request.camera_id],
                FootageRequestStatus.DRAFTED,
                details={"window_start": format_time(start), "window_end": format_time(end)},
            )
        session.commit()
        return [_row(request, cameras[request.camera_id], cad_number) for request in requests]


def _owner_time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def _owner_zone(owner: Owner) -> ZoneInfo:
    """The owner's zone; UTC when the registry holds a name this machine does not know, since
    the e-mail names the zone it uses and so stays right."""
    try:
        return ZoneInfo(owner.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class OwnerBatch:
    """One owner's drafted requests of an incident: what one e-mail asks for."""

    owner: Owner
    requests: list[tuple[FootageRequest, Camera]]

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(request.reference for request, _ in self.requests)


def compose_email(
    mailer: SmtpMailer,
    template: EmailTemplate,
    incident: Incident,
    batch: OwnerBatch,
    sender: SignedInUser,
    footage: FootageSettings,
    now: datetime,
    upload_links: Mapping[int, str] | None = None,
) -> EmailMessage:
    """The e-mail to the batch's owner, and to no one else, asking for all its cameras;
    ``upload_links`` (request id to link) puts each camera's upload link under its line."""
    owner = batch.owner
    address = _mail_address(owner)
    if address is None:
        raise FootageRequestError(f"owner {owner.id} has no usable e-mail address")
    zone = _owner_zone(owner)
    first = min(request.window_start for request, _ in batch.requests)
    last = max(request.window_end for request, _ in batch.requests)
    lines = []
    for request, camera in batch.requests:
        line = f"- {camera.name}"
        if camera.address:
            line += f", {camera.address}"
        line += f" (reference {request.reference})"
        if (request.window_start, request.window_end) != (first, last):
            line += (
                f": {_owner_time(request.window_start, zone)} to "
                f"{_owner_time(request.window_end, zone)}"
            )
        if upload_links:
            line += f"\n  Send the video: {upload_links[request.id]}"
        lines.append(line)
    references = ", ".join(batch.references)
    agency = mailer.settings.agency_name
    body = template.render(
        {
            "agency_name": agency,
            "owner_name": owner.contact_name or owner.name,
            "cad_number": incident.cad_number,
            "incident_type": incident.incident_type,
            "incident_address": incident.address or "the incident's location",
            "window_start": _owner_time(first, zone),
            "window_end": _owner_time(last, zone),
            "time_zone": zone.key,
            "cameras": "\n".join(lines),
            "requester": sender.display_name,
            "reply_to": mailer.reply_to,
            "reply_instructions": (
                footage.upload_instructions if upload_links else footage.reply_instructions
            ),
            "reference": references,
        }
    )
    message = EmailMessage()
    message["Subject"] = (
        f"{agency}: request for recorded video, incident {incident.cad_number} [{references}]"
    )
    message["From"] = formataddr((agency, mailer.from_address))
    message["To"] = formataddr((owner.contact_name or owner.name, address))
    message["Reply-To"] = mailer.reply_to
    message["Date"] = format_datetime(now.astimezone(UTC))
    # The agency's domain, not this workstation's host name, which make_msgid would otherwise
    # put into every mail.
    message["Message-ID"] = make_msgid(domain=mailer.from_address.rpartition("@")[2])
    message.set_content(body)
    return message


@dataclass(frozen=True, slots=True)
class _Sending:
    """One run of ``send_requests``: its unit of work, who sends, for which incident, when."""

    session: Session
    audit: AuditLog
    sender: SignedInUser
    cad_number: str
    now: datetime
    footage: FootageSettings

    @property
    def expires_at(self) -> datetime:
        return self.now + timedelta(days=self.footage.expire_after_days)

    def record(
        self,
        batch: OwnerBatch,
        status: str,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        reason: str | None = None,
        details: Mapping[str, DetailValue],
    ) -> None:
        for request, camera in batch.requests:
            _record(
                self.audit,
                self.sender.username,
                self.cad_number,
                request,
                camera,
                status,
                outcome=outcome,
                reason=reason,
                details=details,
            )

    def deliver(
        self, connection: SmtpConnection, batch: OwnerBatch, message: EmailMessage
    ) -> OwnerSendResult:
        """Audit, send, then mark sent; raises MailDeliveryError with nothing changed."""
        message_id = str(message["Message-ID"])
        self.record(batch, "sending", details={"message_id": message_id})
        address = _mail_address(batch.owner)
        assert address is not None  # only owners with an address are composed for
        connection.send(message, address)
        expires_at = self.expires_at
        for request, _ in batch.requests:
            request.status = FootageRequestStatus.SENT
            request.sent_at = self.now
            request.expires_at = expires_at
            request.message_id = message_id
            request.last_attempt_at = self.now
            request.last_error = None
        self.session.commit()
        self.record(
            batch,
            FootageRequestStatus.SENT,
            details={"message_id": message_id, "expires_at": format_time(expires_at)},
        )
        log.info(
            "footage request e-mail %s sent to owner %s (%s)",
            message_id,
            batch.owner.id,
            ", ".join(batch.references),
        )
        count = len(batch.requests)
        return OwnerSendResult(
            batch.owner.id,
            batch.references,
            True,
            f"sent to {batch.owner.name} ({count} camera{'s' if count > 1 else ''})",
        )

    def keep_failure(self, batch: OwnerBatch, message: str, reason: str) -> OwnerSendResult:
        """The requests stay drafted with the error kept on them; the failure is audited."""
        for request, _ in batch.requests:
            request.last_attempt_at = self.now
            request.last_error = message
        self.session.commit()
        self.record(
            batch,
            FootageRequestStatus.DRAFTED,
            outcome=Outcome.FAILURE,
            reason=reason,
            details={"error": message},
        )
        log.warning("footage request e-mail to owner %s not sent: %s", batch.owner.id, message)
        return OwnerSendResult(
            batch.owner.id,
            batch.references,
            False,
            f"not sent to {batch.owner.name}: {message}. The requests stay drafted.",
        )

    def mail_failure(self, batch: OwnerBatch, error: MailDeliveryError) -> OwnerSendResult:
        return self.keep_failure(batch, error.message, error.failure.value)

    def upload_links(
        self, incident: Incident, batch: OwnerBatch, uploads: UploadLinks
    ) -> dict[int, str]:
        """Each request's upload link from the evidence server; raises UploadLinkError."""
        zone = _owner_zone(batch.owner).key
        return {
            request.id: uploads.link_for(request, camera, incident, zone, self.expires_at)
            for request, camera in batch.requests
        }


def _drafts_to_send(
    session: Session, incident: Incident, request_ids: Collection[int] | None
) -> list[FootageRequest]:
    query = select(FootageRequest).where(FootageRequest.incident_id == incident.id)
    if request_ids is None:
        query = query.where(FootageRequest.status == FootageRequestStatus.DRAFTED)
        return list(session.scalars(query.order_by(FootageRequest.id)))
    query = query.where(FootageRequest.id.in_(request_ids)).order_by(FootageRequest.id)
    requests = list(session.scalars(query))
    missing = sorted(set(request_ids) - {request.id for request in requests})
    if missing:
        raise FootageRequestNotFound(
            f"{', '.join(f'FR-{number}' for number in missing)}: no such request for incident "
            f"{incident.cad_number}; nothing was sent"
        )
    done = [r for r in requests if r.status is not FootageRequestStatus.DRAFTED]
    if done:
        raise FootageRequestError(
            f"{', '.join(f'{r.reference} is {r.status}' for r in done)}: only drafted requests "
            "are sent; nothing was sent"
        )
    return requests


def _owner_batches(session: Session, drafts: Sequence[FootageRequest]) -> list[OwnerBatch]:
    cameras = _cameras(session, {request.camera_id for request in drafts})
    by_owner: dict[str, list[tuple[FootageRequest, Camera]]] = defaultdict(list)
    for request in drafts:
        camera = cameras[request.camera_id]
        by_owner[camera.owner_id].append((request, camera))
    return [
        OwnerBatch(requests[0][1].owner, requests)
        for _, requests in sorted(by_owner.items(), key=lambda item: item[0])
    ]


def send_requests(
    sessions: SessionFactory,
    audit: AuditLog,
    mailer: SmtpMailer,
    template: EmailTemplate,
    sender: SignedInUser,
    cad_number: str,
    now: datetime,
    *,
    footage: FootageSettings,
    request_ids: Collection[int] | None = None,
    uploads: UploadLinks | None = None,
) -> list[OwnerSendResult]:
    """E-mail the incident's drafted requests (or those of ``request_ids``), one message per
    owner, with an upload link per camera when ``uploads`` makes them; what could not be sent
    stays drafted with the reason. One result per owner."""
    with sessions() as session:
        incident = _incident(session, cad_number)
        batches = _owner_batches(session, _drafts_to_send(session, incident, request_ids))
        results = [
            OwnerSendResult(batch.owner.id, batch.references, False, reason)
            for batch in batches
            if (reason := cannot_send_reason(batch.owner)) is not None
        ]
        unreachable = {result.owner_id for result in results}
        sending = _Sending(session, audit, sender, cad_number, now, footage)
        mail = []
        for batch in batches:
            if batch.owner.id in unreachable:
                continue
            links = None
            if uploads is not None:
                try:
                    links = sending.upload_links(incident, batch, uploads)
                except UploadLinkError as error:
                    results.append(sending.keep_failure(batch, str(error), "upload_link"))
                    continue
            message = compose_email(mailer, template, incident, batch, sender, footage, now, links)
            mail.append((batch, message))
        if not mail:
            return sorted(results, key=lambda result: result.owner_id)
        failure: MailDeliveryError | None = None
        try:
            with mailer.connect() as connection:
                for batch, message in mail:
                    try:
                        results.append(sending.deliver(connection, batch, message))
                    except MailDeliveryError as error:
                        results.append(sending.mail_failure(batch, error))
                        if error.connection_lost:
                            failure = error
                            break
        except MailDeliveryError as error:
            failure = error  # connecting failed: nothing was sent
        if failure is not None:
            # The owners not tried keep their drafts, with the error that stopped the sending.
            tried = {result.owner_id for result in results}
            results += [
                sending.mail_failure(batch, failure)
                for batch, _ in mail
                if batch.owner.id not in tried
            ]
        return sorted(results, key=lambda result: result.owner_id)


def record_answer(
    sessions: SessionFactory,
    audit: AuditLog,
    actor: SignedInUser,
    request_id: int,
    answer: FootageRequestStatus,
    now: datetime,
    *,
    note: str = "",
) -> FootageRequestRow:
    """Record the owner's answer (fulfilled or declined) to a sent or expired request."""
    if answer not in ANSWERS:
        raise FootageRequestError(
            f"{answer} is not an answer: an owner's answer is fulfilled or declined"
        )
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise FootageRequestError(
            f"the note has {len(note)} characters; keep it to {MAX_NOTE_LENGTH}"
        )
    with sessions() as session:
        request = session.get(FootageRequest, request_id)
        if request is None:
            raise FootageRequestNotFound(f"no footage request FR-{request_id} in the registry")
        if request.status is FootageRequestStatus.DRAFTED:
            raise FootageRequestError(
                f"{request.reference} is drafted: it was never sent, so the owner cannot have "
                "answered it; send it first"
            )
        if request.status not in ANSWERABLE:
            answered = request.answered_at
            when = f" on {_utc_text(answered)}" if answered is not None else ""
            raise FootageRequestError(
                f"{request.reference} was already answered ({request.status}{when}); an answer "
                "is recorded once"
            )
        camera = _cameras(session, [request.camera_id])[request.camera_id]
        incident = session.get_one(Incident, request.incident_id)
        _record(
            audit,
            actor.username,
            incident.cad_number,
            request,
            camera,
            answer,
            details={"previous": request.status.value},
        )
        request.status = answer
        request.answered_at = now
        request.answer_note = note
        session.commit()
        return _row(request, camera, incident.cad_number)


def expire_requests(
    sessions: SessionFactory, audit: AuditLog, actor: str, now: datetime
) -> list[str]:
    """End the wait for sent requests whose ``expires_at`` has passed; their references.

    ``actor`` is who runs the check: the signed-in user at the console, the OS account on the
    command line.
    """
    expired: list[str] = []
    with sessions() as session:
        due = session.scalars(
            select(FootageRequest)
            .where(
                FootageRequest.status == FootageRequestStatus.SENT,
                FootageRequest.expires_at <= now,
            )
            .order_by(FootageRequest.id)
        ).all()
        for request in due:
            camera = _cameras(session, [request.camera_id])[request.camera_id]
            incident = session.get_one(Incident, request.incident_id)
            assert request.expires_at is not None  # the query asked for it
            _record(
                audit,
                actor,
                incident.cad_number,
                request,
                camera,
                FootageRequestStatus.EXPIRED,
                reason="no_answer",
                details={"expires_at": format_time(request.expires_at)},
            )
            request.status = FootageRequestStatus.EXPIRED
            session.commit()
            expired.append(request.reference)
    return expired


def request_rows(session: Session, cad_number: str) -> list[FootageRequestRow]:
    """The incident's requests, oldest first; none for an incident not in the registry."""
    incident = session.scalar(select(Incident).where(Incident.cad_number == cad_number))
    if incident is None:
        return []
    requests = list(
        session.scalars(
            select(FootageRequest)
            .where(FootageRequest.incident_id == incident.id)
            .order_by(FootageRequest.id)
        )
    )
    cameras = _cameras(session, {request.camera_id for request in requests})
    return [_row(request, cameras[request.camera_id], cad_number) for request in requests]


def read_request_rows(sessions: SessionFactory, cad_number: str) -> list[FootageRequestRow]:
    with sessions() as session:
        return request_rows(session, cad_number)
