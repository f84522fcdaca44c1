"""The audit hash chain: the canonical encoding of an event and how events are chained.

This encoding is a stable contract (the sync server and owners' tools verify it); change it
only by adding a new ``v`` and keeping the old one verifiable.

Canonical encoding, version 1
    The event's fields as one JSON object, UTF-8, keys sorted, no insignificant white space
    (``separators=(",", ":")``), non-ASCII characters written as themselves. Values are strings,
    integers, booleans or null, never floats. Times are UTC, ISO 8601 with exactly six
    fractional digits and a ``Z`` suffix (``2026-11-21T19:01:52.123456Z``). The object always
    carries every field of ``AuditRecord`` plus ``"seq"`` (the event's sequence number, from 1)
    and ``"v": 1``; absent optional values are null; ``details`` is an object with the same rules.

Chain
    ``hash_n = SHA-256(hash_{n-1} || seq_n as 8 bytes big-endian || canonical_n)``, with
    ``hash_0`` 32 zero bytes. Binding the sequence number into the hash makes removal, insertion
    and reordering detectable as well as changes.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

ENCODING_VERSION = 1
GENESIS_HASH = bytes(32)
_SEQ = struct.Struct(">Q")
_CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")

DetailValue = str | int | bool | None


class AuditEventType(enum.StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    SESSION_LOCKED = "session_locked"
    SESSION_UNLOCKED = "session_unlocked"
    FEED_ALLOWED = "feed_allowed"
    FEED_DENIED = "feed_denied"
    FEED_CLOSED = "feed_closed"
    GEOFENCE_QUERY = "geofence_query"
    FOOTAGE_REQUEST = "footage_request"
    EXPORT = "export"
    EVIDENCE_VIEWED = "evidence_viewed"  # an owner's footage from the vault, opened to play
    POLICY_CHANGE_SEEN = "policy_change_seen"
    POLICY_EXPLAIN = "policy_explain"
    INSTALL_VERIFIED = "install_verified"
    STREAM_CHECKED = "stream_checked"  # an install check of a URL or file that is no camera
    AUDIT_READ = "audit_read"
    AUDIT_EXPORT = "audit_export"
    REGISTRY_IMPORT = "registry_import"
    REGISTRY_EXPORT = "registry_export"
    USER_ADMIN = "user_admin"
    CAMERA_CHANGED = "camera_changed"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if _CANONICAL_TIME.fullmatch(text):
        # The shape format_time writes: fromisoformat reads it alike (same range checks) and
        # five times faster than strptime, which the sync server calls for every event.
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What one audit event says, before it gets its place in the chain."""

    event_type: AuditEventType
    time: datetime
    actor: str
    workstation: str
    outcome: Outcome
    subject: str = ""
    camera_id: str | None = None
    purpose: str | None = None
    policy_version: int | None = None
    decision: str | None = None
    reason: str | None = None
    duration_ms: int | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def fields(self, seq: int) -> dict[str, object]:
        for key, value in self.details.items():
            if isinstance(value, float):
                raise TypeError(f"audit detail {key!r} is a float; use an integer unit")
        return {
            "v": ENCODING_VERSION,
            "seq": seq,
            "event_type": self.event_type.value,
            "time": format_time(self.time),
            "actor": self.actor,
            "workstation": self.workstation,
            "outcome": self.outcome.value,
            "subject": self.subject,
            "camera_id": self.camera_id,
            "purpose": self.purpose,
            "policy_version": self.policy_version,
            "decision": self.decision,
            "reason": self.reason,
            "duration_ms": self.duration_ms,
            "details": dict(self.details),
        }

    def canonical(self, seq: int) -> bytes:
        return canonical_bytes(self.fields(seq))


def canonical_bytes(fields: Mapping[str, object]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(previous: bytes, seq: int, canonical: bytes) -> bytes:
    return hashlib.sha256(previous + _SEQ.pack(seq) + canonical).digest()


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The result of walking a chain: how many events were good, and the first bad one."""

    count: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def verify_chain(
    rows: Iterable[tuple[int, bytes, bytes]],
    *,
    first_seq: int = 1,
    previous: bytes = GENESIS_HASH,
) -> ChainVerdict:
    """Walk ``(seq, canonical, stored_hash)`` rows in seq order; stop at the first bad one.

    Expects ``first_seq``, ``first_seq + 1``... with no gaps or repeats, each hash chained from
    the one before (``previous`` before the first). Each link needs only the stored hash before
    it, so a long chain can be checked in pieces, each starting from the stored hash that ends
    the piece before; the first bad link is the same as a walk from the start would find.
    """
    expected = first_seq
    sha256 = hashlib.sha256
    pack = _SEQ.pack
    try:
        for seq, canonical, stored in rows:
            if seq != expected:
                bad = min(seq, expected)
                kind = "missing" if seq > expected else "repeated or out of order"
                return ChainVerdict(expected - first_seq, bad, f"event {bad} is {kind}")
            if sha256(previous + pack(seq) + canonical).digest() != stored:
                return ChainVerdict(
                    expected - first_seq, seq, f"event {seq} does not match its hash"
                )
            previous = stored
            expected += 1
    except TypeError:  # a value of the wrong type where bytes belong: tampered with
        return ChainVerdict(expected - first_seq, expected, f"event {expected} is malformed")
    return ChainVerdict(expected - first_seq)
