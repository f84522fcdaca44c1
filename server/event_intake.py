"""Accepting a batch of a workstation's audit events: only in order, only if the chain holds.

The server recomputes every new event's hash with the workstation's own code
(``app.models.audit_chain``) from the stored head onwards, so it accepts exactly what
``verify_file`` would accept on the workstation. A batch is stored whole or not at all. Events
the server already has (a retry, or a batch that overlaps the acknowledged head) must be
byte-identical to the stored ones: then they are skipped, otherwise the batch is a fork.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.models.audit_chain import canonical_bytes, verify_chain
from app.models.policy import PurposeKind
from server.models import ReceivedAuditEvent, Workstation
from server.schemas import UploadedEvent

RejectionCode = Literal["broken_chain", "gap", "fork"]
# Concurrent uploads for one workstation: the loser of a race sees the winner's rows and tries
# again from the new head (then usually as a no-op).
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a batch did. ``head`` is its last event; ``chain_head`` the workstation's head after
    it (the same unless the batch was old); ``previous`` the head the batch was checked against,
    and ``new_hashes`` the chain hashes of the events it stored, in order."""

    head: Head
    stored: int
    already_stored: int
    previous: Head
    chain_head: Head
    new_hashes: tuple[bytes, ...] = ()


class ChainRejected(Exception):
    """The batch does not continue the workstation's chain; nothing of it was stored."""

    def __init__(self, code: RejectionCode, first_bad_seq: int, detail: str, head: Head) -> None:
        super().__init__(detail)
        self.code: RejectionCode = code
        self.first_bad_seq = first_bad_seq
        self.detail = detail
        self.head = head


class MalformedEvent(Exception):
    """An event that cannot be encoded canonically (e.g. a lone surrogate in a string)."""


class UnknownWorkstation(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Decoded:
    event: UploadedEvent
    canonical: bytes
    hash: bytes
    prev_hash: bytes


def _decode(event: UploadedEvent) -> _Decoded:
    try:
        canonical = canonical_bytes(event.fields())
    except (UnicodeEncodeError, ValueError) as exc:
        raise MalformedEvent(
            f"event {event.seq} cannot be encoded canonically ({exc.__class__.__name__})"
        ) from exc
    return _Decoded(event, canonical, bytes.fromhex(event.hash), bytes.fromhex(event.prev_hash))


def _column_text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; the canonical bytes keep the original.
    return None if value is None else value.replace("\x00", "\ufffd")


def incident_of(event: UploadedEvent) -> str | None:
    """The incident an event is about: its ``details.incident``, else an ``incident:`` purpose."""
    incident = event.details.get("incident")
    if isinstance(incident, str) and incident:
        return incident
    prefix = f"{PurposeKind.INCIDENT.value}:"
    if event.purpose and event.purpose.startswith(prefix):
        return event.purpose.removeprefix(prefix) or None
    return None


def _check_order(events: Sequence[UploadedEvent], head: Head) -> None:
    expected = events[0].seq
    for event in events:
        if event.seq != expected:
            bad = min(event.seq, expected)
            kind = "missing" if event.seq > expected else "repeated or out of order"
            raise ChainRejected(
                "broken_chain", bad, f"event {bad} is {kind} in the batch; nothing was stored", head
            )
        expected += 1
    if events[0].seq > head.seq + 1:
        raise ChainRejected(
            "gap",
            head.seq + 1,
            f"event {head.seq + 1} is missing: the batch starts at event {events[0].seq} but the "
            f"server has acknowledged events up to {head.seq}; send from event {head.seq + 1}",
            head,
        )


def _check_known(session: Session, workstation_id: str, known: list[_Decoded], head: Head) -> None:
    """Events at or below the head must be the very events the server stored."""
    if not known:
        return
    rows = session.execute(
        select(
            ReceivedAuditEvent.seq,
            ReceivedAuditEvent.record,
            ReceivedAuditEvent.hash,
            ReceivedAuditEvent.prev_hash,
        )
        .where(ReceivedAuditEvent.workstation_id == workstation_id)
        .where(ReceivedAuditEvent.seq.between(known[0].event.seq, known[-1].event.seq))
    )
    stored = {
        seq: (bytes(record), bytes(digest), bytes(prev)) for seq, record, digest, prev in rows
    }
    for item in known:
        seq = item.event.seq
        if stored.get(seq) != (item.canonical, item.hash, item.prev_hash):
            raise ChainRejected(
                "fork",
                seq,
                f"event {seq} differs from the event {seq} the server acknowledged before: the "
                "workstation's log no longer matches what it sent (rewritten or forked); "
                "nothing was stored",
                head,
            )


def _check_new(new: list[_Decoded], head: Head) -> None:
    """Each new event must name the hash before it and hash to what it says."""
    previous = head.hash
    for item in new:
        if item.prev_hash != previous:
            seq = item.event.seq
            if seq == head.seq + 1:
                raise ChainRejected(
                    "fork",
                    seq,
                    f"event {seq} follows an event {head.seq} with hash {item.prev_hash.hex()}, "
                    f"but the server acknowledged event {head.seq} with hash {head.hash.hex()}: "
                    "the workstation's log has forked from what it sent; nothing was stored",
                    head,
                )
            raise ChainRejected(
                "broken_chain",
                seq,
                f"event {seq} gives prev_hash {item.prev_hash.hex()}, which is not the hash of "
                f"event {seq - 1}; nothing was stored",
                head,
            )
        previous = item.hash
    if not new:
        return
    verdict = verify_chain(
        ((item.event.seq, item.canonical, item.hash) for item in new),
        first_seq=new[0].event.seq,
        previous=head.hash,
    )
    if not verdict.intact:
        assert verdict.first_bad_seq is not None
        raise ChainRejected(
            "broken_chain",
            verdict.first_bad_seq,
            f"{verdict.problem} (forged or damaged); nothing of the batch was stored",
            head,
        )


def _accept_once(
    session: Session, workstation_id: str, decoded: list[_Decoded], now: datetime
) -> Acknowledgement:
    workstation = session.scalar(
        select(Workstation).where(Workstation.id == workstation_id).with_for_update()
    )
    if workstation is None:
        raise UnknownWorkstation(workstation_id)
    head = Head(workstation.head_seq, bytes(workstation.head_hash))
    _check_order([item.event for item in decoded], head)
    known = [item for item in decoded if item.event.seq <= head.seq]
    new = decoded[len(known) :]
    _check_known(session, workstation_id, known, head)
    _check_new(new, head)
    if not new:
        last = known[-1]
        return Acknowledgement(Head(last.event.seq, last.hash), 0, len(known), head, head)
    session.execute(
        insert(ReceivedAuditEvent),
        [
            {
                "workstation_id": workstation_id,
                "seq": item.event.seq,
                "record": item.canonical,
                "hash": item.hash,
                "prev_hash": item.prev_hash,
                "time": item.event.moment,
                "received_at": now,
                "event_type": _column_text(item.event.event_type),
                "actor": _column_text(item.event.actor),
                "camera_id": _column_text(item.event.camera_id),
                "incident": _column_text(incident_of(item.event)),
            }
            for item in new
        ],
    )
    last = new[-1]
    moved = session.execute(
        update(Workstation)
        .where(Workstation.id == workstation_id, Workstation.head_seq == head.seq)
        .values(head_seq=last.event.seq, head_hash=last.hash)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise _HeadMoved
    new_head = Head(last.event.seq, last.hash)
    return Acknowledgement(
        new_head,
        len(new),
        len(known),
        previous=head,
        chain_head=new_head,
        new_hashes=tuple(item.hash for item in new),
    )


class _HeadMoved(Exception):
    """Another upload for the same workstation committed first."""


def accept_batch(
    sessions: sessionmaker[Session],
    workstation_id: str,
    events: Sequence[UploadedEvent],
    now: datetime,
) -> Acknowledgement:
    """Store ``events`` if they continue the workstation's chain; raise ChainRejected if not."""
    decoded = [_decode(event) for event in events]
    for attempt in range(ATTEMPTS):
        try:
            with sessions.begin() as session:
                return _accept_once(session, workstation_id, decoded, now)
        except (IntegrityError, OperationalError, _HeadMoved):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
