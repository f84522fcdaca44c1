"""Accepting a batch of a workstation's audit events: only in order, only if the chain holds.

The server recomputes every new event's hash with the workstation's own code
(``app.models.audit_chain``) from the stored head onwards, so it accepts exactly what
``verify_file`` would accept on the workstation. A batch is stored whole or not at all. Events
the server already has (a retry, or a batch that overlaps the acknowledged head) must be
byte-identical to the stored ones: then they are skipped, otherwise the batch is a fork.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.models.audit_chain import canonical_bytes, chain_hash
from app.models.base import UtcDateTime
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
    moment: datetime


def _decode(event: UploadedEvent) -> _Decoded:
    try:
        canonical = canonical_bytes(event.fields())
    except (UnicodeEncodeError, ValueError) as exc:
        raise MalformedEvent(
            f"event {event.seq} cannot be encoded canonically ({exc.__class__.__name__})"
        ) from exc
    return _Decoded(
        event,
        canonical,
        bytes.fromhex(event.hash),
        bytes.fromhex(event.prev_hash),
        event.moment,
    )


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


class _Batch:
    """The uploaded events, each decoded (canonical bytes, hashes) once, when first needed."""

    def __init__(self, events: Sequence[UploadedEvent]) -> None:
        self.events = events
        self._decoded: list[_Decoded] = []

    def decoded(self, index: int) -> _Decoded:
        while len(self._decoded) <= index:
            self._decoded.append(_decode(self.events[len(self._decoded)]))
        return self._decoded[index]


def _check_new(item: _Decoded, previous: bytes, head: Head) -> None:
    """A new event must name the hash before it (``previous``) and hash to what it says."""
    seq = item.event.seq
    if item.prev_hash != previous:
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
    if chain_hash(previous, seq, item.canonical) != item.hash:
        raise ChainRejected(
            "broken_chain",
            seq,
            f"event {seq} does not match its hash (forged or damaged); nothing of the batch "
            "was stored",
            head,
        )


EVENTS = cast(Table, ReceivedAuditEvent.__table__)
# The columns an accepted event fills, with their PostgreSQL types for a binary COPY.
STORED_COLUMNS = {
    "workstation_id": "varchar",
    "seq": "int8",
    "record": "bytea",
    "hash": "bytea",
    "prev_hash": "bytea",
    "time": "timestamp",
    "received_at": "timestamp",
    "event_type": "varchar",
    "actor": "varchar",
    "camera_id": "varchar",
    "incident": "varchar",
}
_COPY_EVENTS = f"COPY {EVENTS.name} ({', '.join(STORED_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# workstation_id, seq, record, hash, prev_hash, time, received_at, and the query columns
StoredRow = tuple[
    str,
    int,
    bytes,
    bytes,
    bytes,
    datetime,
    datetime,
    str | None,
    str | None,
    str | None,
    str | None,
]


def _checked_rows(
    workstation_id: str, batch: _Batch, first_new: int, head: Head, now: datetime
) -> Iterator[StoredRow]:
    """The rows of the batch's new events, each checked against the chain before it is given
    out (a rejection ends the iteration with ChainRejected)."""
    previous = head.hash
    for index in range(first_new, len(batch.events)):
        item = batch.decoded(index)
        _check_new(item, previous, head)
        previous = item.hash
        event = item.event
        yield (
            workstation_id,
            event.seq,
            item.canonical,
            item.hash,
            item.prev_hash,
            item.moment,
            now,
            _column_text(event.event_type),
            _column_text(event.actor),
            _column_text(event.camera_id),
            _column_text(incident_of(event)),
        )


def _store(session: Session, rows: Iterator[StoredRow], now: datetime) -> None:
    """Insert checked rows, received at ``now``, in the batch's transaction; a rejection rolls
    back what was sent.

    On PostgreSQL with one COPY, several times faster there than an executemany of INSERTs,
    and streamed: the database indexes the rows sent so far while the next ones are checked.
    Elsewhere with one executemany.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(
            insert(EVENTS), [dict(zip(STORED_COLUMNS, row, strict=True)) for row in rows]
        )
        return
    # COPY bypasses SQLAlchemy's bind processing: the times go in as UtcDateTime stores them.
    stored_time = UtcDateTime().process_bind_param
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(_COPY_EVENTS) as copy:
            copy.set_types(list(STORED_COLUMNS.values()))
            received_at = stored_time(now, dialect)
            for row in rows:
                copy.write_row((*row[:5], stored_time(row[5], dialect), received_at, *row[7:]))
    except dialect.loaded_dbapi.Error as exc:
        # Raised as SQLAlchemy raises the driver's errors, so both paths are retried alike.
        raise DBAPIError.instance(_COPY_EVENTS, None, exc, dialect.loaded_dbapi.Error) from exc


def _accept_once(
    session: Session, workstation_id: str, batch: _Batch, now: datetime
) -> Acknowledgement:
    workstation = session.scalar(
        select(Workstation).where(Workstation.id == workstation_id).with_for_update()
    )
    if workstation is None:
        raise UnknownWorkstation(workstation_id)
    head = Head(workstation.head_seq, bytes(workstation.head_hash))
    events = batch.events
    _check_order(events, head)
    first_new = min(len(events), max(0, head.seq + 1 - events[0].seq))
    known = [batch.decoded(index) for index in range(first_new)]
    _check_known(session, workstation_id, known, head)
    if first_new == len(events):
        last = known[-1]
        return Acknowledgement(Head(last.event.seq, last.hash), 0, len(known), head, head)
    _store(session, _checked_rows(workstation_id, batch, first_new, head, now), now)
    new_hashes = tuple(batch.decoded(index).hash for index in range(first_new, len(events)))
    new_head = Head(events[-1].seq, new_hashes[-1])
    moved = session.execute(
        update(Workstation)
        .where(Workstation.id == workstation_id, Workstation.head_seq == head.seq)
        .values(head_seq=new_head.seq, head_hash=new_head.hash)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise _HeadMoved
    return Acknowledgement(
        new_head,
        len(new_hashes),
        len(known),
        previous=head,
        chain_head=new_head,
        new_hashes=new_hashes,
    )


class _HeadMoved(Exception):
    """Another upload for the same workstation committed first."""


def accept_batch(
    sessions: sessionmaker[Session],
    workstation_id: str,
    events: Sequence[UploadedEvent],
    now: datetime,
) -> Acknowledgement:
    """Store ``events`` if they continue the workstation's chain; raise ChainRejected if not.

    Each event is decoded and checked as it goes to the database (inside the transaction, so a
    rejected batch leaves nothing behind), and only once across the retries.
    """
    batch = _Batch(events)
    for attempt in range(ATTEMPTS):
        try:
            with sessions.begin() as session:
                return _accept_once(session, workstation_id, batch, now)
        except (IntegrityError, OperationalError, _HeadMoved):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
