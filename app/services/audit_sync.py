"""The audit sync client: sends this workstation's audit log to the sync server, in the background.

One worker thread per server (vorta's serial job queue per backup site, in spirit): each job reads
the events the server has not acknowledged from the audit log file, over a read-only connection
of its own (WAL: the audit writer never waits for it), and uploads them in sequence order,
``batch_size`` at a time, each event the fields of its canonical record (a ``read_events`` row)
plus ``hash`` and ``prev_hash``. Nothing here runs on the UI thread or in the audit writer's
path: a feed open only ever waits for its own event.

Position
    The acknowledged position (seq and hash of the last event the server stored) is kept in
    ``audit-sync.json`` in the data directory, replaced atomically after every acknowledgement;
    it is never written into the audit log's append-only tables. It is only a hint: at start, and
    after every failure, the client asks the server for the workstation's head and carries on
    from there, so a state file that is behind (a crash before it was written) or ahead (the
    server restored from a backup) never loses or doubles an event. The server is idempotent
    besides: an event it already has is skipped, never stored twice. Before sending from the
    server's head the client checks that its own event at that seq has the hash the server holds;
    if not, the log and the server's copy have forked and nothing more is sent.

Checkpoints
    On first contact the client pins the server's checkpoint key (``GET /v1/checkpoint-key``)
    in the state file, and checks it at every start and after every failure: a different key
    stops sending ("the server's checkpoint key changed"; to trust a key the server's
    administrator replaced on purpose, delete the state file). Every upload sends
    ``since_size``, the size of the last checkpoint the client verified; the acknowledgement's
    checkpoint must be signed with the pinned key, hold the batch's last event (its inclusion
    proof, the leaf being the event's chain hash) and extend the stored checkpoint (its
    consistency proof). Only then are it and the new position stored, together. A server whose
    head is behind the stored checkpoint, or whose new checkpoint does not extend it, has
    forked or rolled back its copy (restored from a backup, say): nothing more is sent. The
    position alone (a format 1 state file, before checkpoints) is still only a hint.

Failures
    The server down, a timeout or a 5xx: "server unreachable", retried with exponential backoff
    and jitter (``retry_initial_s`` doubling up to ``retry_max_s``) for as long as it takes; the
    events wait in the local log. A refused token (401/403), an unregistered workstation (404) or
    no token in the keyring: the state says what to do, and it is retried the same way (the token
    is read from the keyring again after every failure, so a new one is picked up). A 409 that
    says events are missing before the batch (the server lost some) makes the client ask for the
    head again and re-send from there; any other 409 (a fork, a broken chain) stops sending:
    "server rejected: <reason> (seq N)". 413 halves the batch. The token is sent only in the
    Authorization header and never logged or put into a state text or exception.

State
    ``state()`` is a thread-safe snapshot (``SyncState``) that a status bar polls; ``on_change``
    is called from the worker thread with each new state (a Qt consumer must queue it to its own
    thread).
"""

from __future__ import annotations

import enum
import json
import logging
import math
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, Unpack
from urllib.parse import quote

from app.models.audit_chain import GENESIS_HASH, format_time, parse_time
from app.models.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    key_id_for,
    verify_event_inclusion,
    verify_extension,
)
from app.models.merkle import MerkleProofError
from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore
from app.services.sync_link import (
    ServerAnswer,
    ServerUnreachable,
    SyncStalled,
    answer_detail,
    proof_hashes,
)
from app.services.sync_worker import SyncWorker, SyncWorkerArguments, worker_arguments
from app.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = "audit-sync.json"
STATE_FORMAT = 2  # 2: the pinned checkpoint key and the last verified checkpoint
READABLE_STATE_FORMATS = (1, 2)  # 1: the position only

StateCallback = Callable[["SyncState"], None]


class SyncPhase(enum.StrEnum):
    NOT_CONFIGURED = "not_configured"
    CONNECTING = "connecting"  # started, the server not asked yet
    SYNCED = "synced"
    PENDING = "pending"  # sending, or new events since the last look
    UNREACHABLE = "unreachable"  # network or server error: retried with backoff
    STALLED = "stalled"  # needs a person (token, registration, keyring): retried with backoff
    REJECTED = "rejected"  # the server refused the chain: nothing more is sent


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the sync client is doing, for the status bar and ``beacon sync now``."""

    phase: SyncPhase
    local_seq: int = 0  # the newest event of the local log
    acknowledged_seq: int = 0  # the newest event the server has acknowledged
    pending_since: datetime | None = None  # workstation time of the oldest unacknowledged event
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    reason: str = ""  # short, for the status bar
    detail: str = ""  # the whole story (the server's words, what to do): tooltip, CLI, log
    rejected_seq: int | None = None
    stored: int = 0  # events the server newly stored from this client since it started
    already_stored: int = 0  # events this client sent that the server already had

    @property
    def pending(self) -> int:
        return max(0, self.local_seq - self.acknowledged_seq)

    def text(self, now: datetime) -> str:
        """The state in words: "synced", "12 events pending since 14:02", ..."""
        if self.phase is SyncPhase.NOT_CONFIGURED:
            return "sync not configured"
        if self.phase is SyncPhase.CONNECTING:
            return "connecting to the sync server"
        if self.phase is SyncPhase.SYNCED:
            return "synced"
        if self.phase is SyncPhase.PENDING:
            return _pending_text(self.pending, self.pending_since)
        if self.phase is SyncPhase.REJECTED:
            if self.rejected_seq is None:
                return f"server rejected: {self.reason}"
            return f"server rejected: {self.reason} (seq {self.rejected_seq})"
        retry = _retry_text(self.retry_at, now)
        if self.phase is SyncPhase.UNREACHABLE:
            since = _clock_text(self.failing_since)
            inside = ", ".join(part for part in (f"since {since}" if since else "", retry) if part)
            text = f"server unreachable ({inside})" if inside else "server unreachable"
            if self.pending:
                text += f", {_pending_text(self.pending, None)}"
            return text
        return f"{self.reason} ({retry})" if retry else self.reason


def _clock_text(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M") if moment is not None else ""


def _retry_text(retry_at: datetime | None, now: datetime) -> str:
    if retry_at is None:
        return ""
    seconds = max(0, math.ceil((retry_at - now).total_seconds()))
    return f"retry in {seconds} s"


def _pending_text(count: int, since: datetime | None) -> str:
    noun = "event" if count == 1 else "events"
    text = f"{count} {noun} pending"
    return f"{text} since {_clock_text(since)}" if since is not None else text


NOT_CONFIGURED = SyncState(SyncPhase.NOT_CONFIGURED)


class SyncStateSource(Protocol):
    """What a status bar needs of a sync client."""

    def state(self) -> SyncState: ...


# ---- what can go wrong in one attempt ----------------------------------------------------------


class _Rejected(Exception):
    """The server will not take this log's events (or the log and its copy differ): stop."""

    def __init__(self, reason: str, seq: int | None, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seq = seq  # None: not about one event (the server's key or checkpoints)
        self.detail = detail


class _Gap(Exception):
    """The server is behind the position this client thought it had: ask for its head again."""


@dataclass(frozen=True, slots=True)
class _Position:
    seq: int
    hash: bytes


_START = _Position(0, GENESIS_HASH)

KEY_CHANGED = "the server's checkpoint key changed"
NOT_EXTENDED = "the server's copy does not extend its last checkpoint: forked or rolled back"


@dataclass(frozen=True, slots=True)
class _ServerKey:
    """The server's checkpoint key as pinned: the raw Ed25519 public key and its id."""

    public_key: bytes
    key_id: str


@dataclass(frozen=True, slots=True)
class _Saved:
    """What the state file holds: the position, and (format 2) the pinned key and the last
    checkpoint verified with it."""

    position: _Position
    key: _ServerKey | None = None
    checkpoint: SignedCheckpoint | None = None


# ---- the acknowledged position, kept between runs ----------------------------------------------


class SyncStateFile:
    """The last acknowledged position for one server and workstation id, in a small JSON file.

    Replaced atomically (written beside, flushed to disk, renamed), so a crash leaves either the
    old position or the new one. A file for another server or workstation id is ignored.
    """

    def __init__(self, path: Path, server_url: str, workstation_id: str) -> None:
        self.path = path
        self._server_url = server_url
        self._workstation_id = workstation_id

    def load(self) -> _Saved | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring the sync state file %s: %s", self.path, exc)
            return None
        try:
            if (
                data["format"] not in READABLE_STATE_FORMATS
                or data["server_url"] != self._server_url
                or data["workstation_id"] != self._workstation_id
            ):
                return None
            position = _Position(int(data["seq"]), bytes.fromhex(data["hash"]))
            if data["format"] == 1:
                return _Saved(position)
            key = None
            if data["server_key"] is not None:
                key = _ServerKey(
                    bytes.fromhex(data["server_key"]["public_key"]),
                    data["server_key"]["key_id"],
                )
                if key_id_for(key.public_key) != key.key_id:
                    raise ValueError("the pinned key does not have its key id")
            checkpoint = None
            if data["checkpoint"] is not None:
                if key is None:
                    raise ValueError("a checkpoint without a pinned key")
                checkpoint = SignedCheckpoint.from_wire(data["checkpoint"])
                checkpoint.verify(key.public_key)
            return _Saved(position, key, checkpoint)
        except (KeyError, TypeError, ValueError) as exc:  # CheckpointError is a ValueError
            log.warning("ignoring the sync state file %s: %r", self.path, exc)
            return None

    def save(self, saved: _Saved, now: datetime) -> None:
        key, checkpoint = saved.key, saved.checkpoint
        data = {
            "format": STATE_FORMAT,
            "server_url": self._server_url,
            "workstation_id": self._workstation_id,
            "seq": saved.position.seq,
            "hash": saved.position.hash.hex(),
            "acknowledged_at": format_time(now),
            "server_key": (
                {"public_key": key.public_key.hex(), "key_id": key.key_id}
                if key is not None
                else None
            ),
            "checkpoint": checkpoint.to_wire() if checkpoint is not None else None,
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)


# ---- the local log, read-only --------------------------------------------------------------------


def _open_log(path: Path) -> sqlite3.Connection:
    """A read-only connection: in WAL mode it never blocks the audit writer."""
    if not path.is_file():
        raise SyncStalled("the audit log cannot be read", f"{path}: no such file")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise SyncStalled("the audit log cannot be read", f"{path}: {exc}") from exc
    return connection


def _local_head(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT MAX(seq) FROM audit_events").fetchone()
    return int(row[0] or 0)


def _local_hash(connection: sqlite3.Connection, seq: int) -> bytes | None:
    if seq == 0:
        return GENESIS_HASH
    row = connection.execute(
        "SELECT CAST(hash AS BLOB) FROM audit_events WHERE seq = ?", (seq,)
    ).fetchone()
    return bytes(row[0]) if row else None


def _local_time(connection: sqlite3.Connection, seq: int) -> datetime | None:
    row = connection.execute("SELECT record FROM audit_events WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        return None
    try:
        return parse_time(json.loads(row[0])["time"])
    except (KeyError, TypeError, ValueError):
        return None


def _wire_event(record: bytes, digest: bytes, previous: bytes) -> bytes:
    """The event as the server reads it (``server.schemas.UploadedEvent``), in JSON.

    The record is the canonical JSON object that was hashed, which holds the very fields the
    server wants (``v``, ``seq``, ``time``...); the wire form is its members plus ``hash`` and
    ``prev_hash``. Spliced as bytes rather than decoded and encoded again: the server
    re-encodes and re-hashes every event anyway, so anything else would only cost time.
    """
    return b'%s,"hash":"%s","prev_hash":"%s"}' % (
        record[:-1],
        digest.hex().encode(),
        previous.hex().encode(),
    )


# ---- the client ----------------------------------------------------------------------------------


class AuditSync(SyncWorker[SyncState], name="audit sync", toward="to"):
    """Sends one workstation's audit log to one sync server from one worker thread."""

    def __init__(
        self,
        *,
        audit_path: Path,
        state_path: Path,
        batch_size: int = 5000,
        interval_s: float = 5.0,
        on_change: StateCallback | None = None,
        **worker: Unpack[SyncWorkerArguments],
    ) -> None:
        """``worker``: the server_url, workstation_id and token source, and the timeouts,
        retry, CA file, clock and jitter of every ``SyncWorker``."""
        super().__init__(interval_s, SyncState(SyncPhase.CONNECTING), on_change, **worker)
        self._audit_path = audit_path
        self._state_file = SyncStateFile(state_path, self.server_url, self.workstation_id)
        self._batch_size = batch_size
        quoted = quote(self.workstation_id, safe="")
        self._events_path = f"/v1/workstations/{quoted}/events"
        self._head_path = f"/v1/workstations/{quoted}/head"
        self._key_path = "/v1/checkpoint-key"

        # Used by one job at a time (the worker's, or sync_once's), under _job_lock.
        self._position: _Position | None = None  # agreed with the server in this run
        self._server_key: _ServerKey | None = None  # pinned; checked again with the head
        self._checkpoint: SignedCheckpoint | None = None  # the last one verified
        self._rejected: _Rejected | None = None
        self._stored = 0
        self._already_stored = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credentials: CredentialStore,
        *,
        clock: Clock = utc_now,
        on_change: StateCallback | None = None,
    ) -> AuditSync | None:
        """The client ``[sync]`` describes, or None when no server_url is set."""
        arguments = worker_arguments(settings, credentials, clock)
        if arguments is None:
            return None
        return cls(
            audit_path=settings.audit_db,
            state_path=settings.data_dir / STATE_FILE,
            batch_size=settings.sync.batch_size,
            interval_s=settings.sync.interval_s,
            on_change=on_change,
            **arguments,
        )

    def sync_once(self) -> SyncState:
        """One job in the calling thread: send everything pending now, or say why not."""
        self._job(scheduled=False)
        return self.state()

    # ---- one job ---------------------------------------------------------------------------

    def _work(self) -> bool:
        """Send what is pending; False once the server rejected the chain (nothing more is
        sent, not even when nudged)."""
        if self._rejected is not None:
            return False
        try:
            self._send_pending()
        except _Rejected as rejection:
            self._rejected = rejection
            log.error(
                "audit sync to %s stopped: %s (seq %s): %s",
                self.server_url,
                rejection.reason,
                rejection.seq,
                rejection.detail,
            )
            self._publish_local(
                SyncPhase.REJECTED,
                reason=rejection.reason,
                detail=rejection.detail,
                rejected_seq=rejection.seq,
            )
            return False
        except (ServerUnreachable, SyncStalled):
            self._position = None  # ask the server where it stands before sending again
            raise
        return True

    def _publish_failure(self, *, stalled: bool, **fields: Any) -> None:
        self._publish_local(SyncPhase.STALLED if stalled else SyncPhase.UNREACHABLE, **fields)

    def _send_pending(self) -> None:
        with closing(_open_log(self._audit_path)) as db:
            try:
                if self._position is None:
                    self._publish(db, SyncPhase.CONNECTING, self._remembered())
                    self._position = self._resync(db, self._token_now())
                resynced_for_gap = False
                while not self._stopping.is_set():
                    position = self._position
                    rows = db.execute(
                        "SELECT seq, record, CAST(hash AS BLOB) FROM audit_events "
                        "WHERE seq > ? ORDER BY seq LIMIT ?",
                        (position.seq, self._batch_size),
                    ).fetchall()
                    if not rows:
                        break
                    self._publish(db, SyncPhase.PENDING, position)
                    token = self._token_now()
                    try:
                        self._position = self._send_batch(rows, position, token)
                    except _Gap:
                        if resynced_for_gap:
                            raise _Rejected(
                                "the server keeps losing its place",
                                position.seq + 1,
                                "the server said events are missing before the batch twice, "
                                "right after telling its head; ask the server's administrator",
                            ) from None
                        resynced_for_gap = True
                        self._position = self._resync(db, self._token_now())
                self._publish(db, SyncPhase.SYNCED, self._position)
            except sqlite3.Error as exc:
                raise SyncStalled("the audit log cannot be read", str(exc)) from exc

    def _remembered(self) -> _Position:
        saved = self._state_file.load()
        return saved.position if saved is not None else _START

    def _save(self, position: _Position, checkpoint: SignedCheckpoint | None) -> None:
        self._state_file.save(_Saved(position, self._server_key, checkpoint), self._clock())
        self._checkpoint = checkpoint

    def _fetch_key(self, token: str) -> _ServerKey:
        answer = self._link.request("GET", self._key_path, token)
        if answer.status == 404:
            raise SyncStalled(
                "the sync server does not sign checkpoints",
                f"GET {self._key_path}: {answer_detail(answer)}; the server must be upgraded",
            )
        if answer.status != 200:
            raise self._refusal(answer)
        try:
            key = _ServerKey(bytes.fromhex(answer.body["public_key"]), answer.body["key_id"])
            if answer.body["algorithm"] != "Ed25519" or key_id_for(key.public_key) != key.key_id:
                raise ValueError(key.key_id)
        except (KeyError, TypeError, ValueError):
            raise ServerUnreachable(
                "the server's checkpoint key is not what this client expects"
            ) from None
        return key

    def _resync(self, db: sqlite3.Connection, token: str) -> _Position:
        """Agree with the server on where to go on from: its head, checked against this log,
        its checkpoint key against the pinned one and against the last verified checkpoint."""
        saved = self._state_file.load()
        key = self._fetch_key(token)
        if saved is not None and saved.key is not None and saved.key != key:
            raise _Rejected(
                KEY_CHANGED,
                None,
                f"the server {self.server_url} now signs its checkpoints with key {key.key_id}, "
                f"not with key {saved.key.key_id} this workstation pinned: it is another "
                "server, or its key was replaced; nothing more is sent. If the server's "
                f"administrator replaced the key on purpose, delete {self._state_file.path} "
                "to trust the new one",
            )
        answer = self._link.request("GET", self._head_path, token)
        if answer.status != 200:
            raise self._refusal(answer)
        try:
            head = _Position(int(answer.body["seq"]), bytes.fromhex(answer.body["hash"]))
        except (KeyError, TypeError, ValueError):
            raise ServerUnreachable("the server's head is not what this client expects") from None
        local_seq = _local_head(db)
        if head.seq > local_seq:
            raise _Rejected(
                "this log is shorter than the server's copy",
                local_seq + 1,
                f"the server holds {head.seq} events of workstation {self.workstation_id}, "
                f"this audit log only {local_seq}: the log was cut short or replaced, or "
                "another workstation uses this id; nothing more is sent",
            )
        if _local_hash(db, head.seq) != head.hash:
            raise _Rejected(
                "this log has forked from the server's copy",
                head.seq,
                f"the server's event {head.seq} of workstation {self.workstation_id} differs "
                f"from this log's event {head.seq}: the log was rewritten, or another "
                "workstation uses this id; nothing more is sent",
            )
        checkpoint = saved.checkpoint if saved is not None else None
        if checkpoint is not None and (
            checkpoint.checkpoint.size > head.seq
            or (
                checkpoint.checkpoint.size == head.seq
                and checkpoint.checkpoint.head_hash != head.hash
            )
        ):
            raise _Rejected(
                NOT_EXTENDED,
                None,
                f"the server signed a checkpoint of {checkpoint.checkpoint.size} events of "
                f"workstation {self.workstation_id} at {checkpoint.checkpoint.time_text}, but "
                f"now holds {head.seq}: its copy was rolled back (restored from a backup?) or "
                "rewritten; nothing more is sent, ask the server's administrator",
            )
        remembered = saved.position if saved is not None else None
        if remembered is not None and remembered.seq > head.seq:
            log.warning(
                "the sync server %s holds events up to %d of %s but acknowledged up to %d "
                "before (restored from a backup?); sending them again",
                self.server_url,
                head.seq,
                self.workstation_id,
                remembered.seq,
            )
        self._server_key = key
        if saved is None or saved.position != head or saved.key != key:
            self._save(head, checkpoint)
        else:
            self._checkpoint = checkpoint
        return head

    def _send_batch(
        self, rows: list[tuple[int, bytes, bytes]], position: _Position, token: str
    ) -> _Position:
        previous = position.hash
        events = []
        for expected, (seq, record, digest) in enumerate(rows, start=position.seq + 1):
            if seq != expected:
                raise _Rejected(
                    "this log has a gap",
                    expected,
                    f"event {expected} is missing from the local audit log; run "
                    "`beacon audit verify`",
                )
            events.append(_wire_event(bytes(record), bytes(digest), previous))
            previous = bytes(digest)
        body = b'{"events":[%s]}' % b",".join(events)
        since = self._checkpoint.checkpoint.size if self._checkpoint is not None else 0
        path = f"{self._events_path}?since_size={since}"
        answer = self._link.request("POST", path, token, body)
        last_seq = rows[-1][0]
        if answer.status == 200:
            return self._acknowledged(answer, last_seq, previous)
        if answer.status == 409:
            raise self._chain_refused(answer, rows[0][0])
        if answer.status == 413 and self._batch_size > 1:
            self._batch_size = max(1, self._batch_size // 2)
            log.warning(
                "the sync server refused %d events in one batch; sending %d at a time",
                len(rows),
                self._batch_size,
            )
            return position
        if answer.status == 413:
            raise _Rejected(
                "an event is larger than the server accepts", rows[0][0], answer_detail(answer)
            )
        if answer.status in {400, 422}:  # 400: a record of the log is not even JSON
            raise _Rejected(
                "the server cannot read an event",
                self._malformed_seq(answer, rows),
                json.dumps(answer.body)[:2000]
                if answer.body is not None
                else f"HTTP {answer.status}",
            )
        raise self._refusal(answer)

    def _acknowledged(self, answer: ServerAnswer, last_seq: int, last_hash: bytes) -> _Position:
        try:
            seq, digest = int(answer.body["seq"]), str(answer.body["hash"])
            stored, already = int(answer.body["stored"]), int(answer.body["already_stored"])
        except (KeyError, TypeError, ValueError):
            raise ServerUnreachable(
                "the server's acknowledgement is not what this client expects"
            ) from None
        if seq != last_seq or digest != last_hash.hex():
            raise ServerUnreachable(
                f"the server acknowledged event {seq} after a batch ending with {last_seq}"
            )
        position = _Position(seq, last_hash)
        checkpoint = self._verified_checkpoint(answer.body, seq, last_hash)
        self._save(position, checkpoint)
        self._stored += stored
        self._already_stored += already
        return position

    def _verified_checkpoint(
        self, body: dict[str, Any], seq: int, chain_hash: bytes
    ) -> SignedCheckpoint:
        """The acknowledgement's checkpoint, if it is signed with the pinned key, holds event
        ``seq`` with ``chain_hash`` and extends the last verified checkpoint; else rejected."""
        key = self._server_key
        assert key is not None  # pinned by _resync before any upload
        try:
            signed = SignedCheckpoint.from_wire(body["checkpoint"])
        except (KeyError, CheckpointError) as exc:
            raise _Rejected("the server's checkpoint cannot be read", seq, str(exc)) from None
        new = signed.checkpoint
        try:
            signed.verify(key.public_key)
        except CheckpointError as exc:
            reason = (
                KEY_CHANGED if new.key_id != key.key_id else "the server's checkpoint is forged"
            )
            raise _Rejected(reason, None, str(exc)) from None
        try:
            if new.workstation_id != self.workstation_id or new.size < seq:
                raise MerkleProofError(
                    f"the checkpoint is of {new.size} events of workstation "
                    f"{new.workstation_id}, not of this batch up to event {seq}"
                )
            if new.size == seq and new.head_hash != chain_hash:
                raise MerkleProofError(f"the checkpoint's head is not this log's event {seq}")
            proof = next(
                proof_hashes(item["proof"])
                for item in body["inclusion"]
                if item["seq"] == seq and item["tree_size"] == new.size
            )
            verify_event_inclusion(new, seq, chain_hash, proof)
        except StopIteration:
            raise _Rejected(
                "the server's checkpoint does not hold the batch",
                seq,
                f"the acknowledgement has no inclusion proof of event {seq} in its checkpoint",
            ) from None
        except (KeyError, TypeError, ValueError) as exc:  # MerkleProofError, CheckpointError
            raise _Rejected(
                "the server's checkpoint does not hold the batch", seq, str(exc)
            ) from None
        old = self._checkpoint
        if old is None:
            return signed
        try:
            consistency = body["consistency"]
            if consistency is None:
                raise MerkleProofError(
                    f"no proof that the tree of {new.size} events extends the checkpoint of "
                    f"{old.checkpoint.size}"
                )
            if (consistency["first"], consistency["second"]) != (old.checkpoint.size, new.size):
                raise MerkleProofError(
                    f"the consistency proof is from {consistency['first']} to "
                    f"{consistency['second']}, not from {old.checkpoint.size} to {new.size}"
                )
            verify_extension(old.checkpoint, new, proof_hashes(consistency["proof"]))
        except (KeyError, TypeError, ValueError) as exc:  # MerkleProofError, CheckpointError
            raise _Rejected(
                NOT_EXTENDED,
                None,
                f"{exc}; the server signed a checkpoint of {old.checkpoint.size} events at "
                f"{old.checkpoint.time_text}; nothing more is sent, ask the server's "
                "administrator",
            ) from None
        return signed

    def _chain_refused(self, answer: ServerAnswer, first_seq: int) -> Exception:
        body = answer.body if isinstance(answer.body, dict) else {}
        code = body.get("code")
        first_bad = body.get("first_bad_seq")
        seq = first_bad if isinstance(first_bad, int) else first_seq
        detail = answer_detail(answer)
        if code == "gap":
            log.warning("the sync server is behind this client: %s", detail)
            return _Gap()
        reason = {
            "fork": "this log has forked from the server's copy",
            "broken_chain": "the hash chain is broken",
        }.get(str(code), "the batch does not continue the chain")
        return _Rejected(reason, seq, detail)

    @staticmethod
    def _malformed_seq(answer: ServerAnswer, rows: list[tuple[int, bytes, bytes]]) -> int:
        problems = answer.body.get("detail") if isinstance(answer.body, dict) else None
        if isinstance(problems, list):
            for problem in problems:
                place = problem.get("loc", []) if isinstance(problem, dict) else []
                index = place[2] if len(place) > 2 and place[:2] == ["body", "events"] else None
                if isinstance(index, int) and 0 <= index < len(rows):
                    return rows[index][0]
        for seq, record, _digest in rows:  # the body as a whole could not be read
            try:
                if not isinstance(json.loads(record), dict):
                    return seq
            except ValueError:  # UnicodeDecodeError too
                return seq
        return rows[0][0]

    def _not_found(self, detail: str) -> SyncStalled:
        workstation = self.workstation_id
        return SyncStalled(
            f"workstation {workstation} is not registered on the sync server",
            f"{detail}; ask the server's administrator to register it "
            f"(python -m server register-workstation {workstation})",
        )

    # ---- state -----------------------------------------------------------------------------

    def _publish(
        self, db: sqlite3.Connection, phase: SyncPhase, position: _Position, **fields: Any
    ) -> None:
        local_seq = _local_head(db)
        if phase is SyncPhase.SYNCED and local_seq > position.seq:
            phase = SyncPhase.PENDING  # written while the last batch was on its way
        since = _local_time(db, position.seq + 1) if local_seq > position.seq else None
        self._set_state(
            SyncState(
                phase,
                local_seq=local_seq,
                acknowledged_seq=position.seq,
                pending_since=since,
                stored=self._stored,
                already_stored=self._already_stored,
                **fields,
            )
        )

    def _publish_local(self, phase: SyncPhase, **fields: Any) -> None:
        """A state after a failure: the counts from the log as far as it can be read."""
        position = self._position or self._remembered()
        try:
            with closing(_open_log(self._audit_path)) as db:
                self._publish(db, phase, position, **fields)
                return
        except (SyncStalled, sqlite3.Error):
            pass
        self._set_state(
            SyncState(
                phase,
                acknowledged_seq=position.seq,
                stored=self._stored,
                already_stored=self._already_stored,
                **fields,
            )
        )
