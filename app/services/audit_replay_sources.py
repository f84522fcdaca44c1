"""Where a supervisor's session replay reads its events: this workstation's log, or the server.

Both sources give the events of one workstation as ``ReplayEvent``s plus a ``ChainCheck``: what
the hash chain proves about them, in words for the replay's report. Every call does I/O (a file,
the keyring, the network): call them from a background job, never from the UI thread.

Local log
    Read over a read-only connection of its own (``read_events``; WAL, so the audit writer never
    waits), and the whole chain verified (``verify_file``). A chain shows changes, insertions,
    removals and reordering up to its newest event; events cut off the end leave a shorter valid
    chain, which only the server's checkpoint can reveal, and the report says so.

Server copy
    ``GET /v1/events`` a page at a time with a supervisor token from the keyring (sent in the
    Authorization header only, never logged or shown). Each received event's hash is recomputed
    from its fields and the ``prev_hash`` it came with, and the events must follow each other
    without a gap, each ``prev_hash`` the hash of the event before. The newest one must then be in
    the server's signed checkpoint (an inclusion proof), signed with the key this workstation's
    sync client pinned when there is one. Events before the first one fetched are not covered,
    and the report says that too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from app.models.audit_chain import (
    ENCODING_VERSION,
    ChainVerdict,
    canonical_bytes,
    chain_hash,
    format_time,
)
from app.models.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    key_id_for,
    verify_event_inclusion,
)
from app.models.merkle import MerkleProofError
from app.models.session_replay import ReplayEvent
from app.services.audit_log import AuditLogUnavailable, read_events, verify_file
from app.services.audit_sync import (
    STATE_FILE,
    SyncStateFile,
)
from app.services.credentials import CredentialStore
from app.services.sync_link import (
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    keyring_token,
)
from app.settings import Settings

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the server's default limit on a page
HASHED_FIELDS = (
    "seq",
    "event_type",
    "actor",
    "workstation",
    "outcome",
    "subject",
    "camera_id",
    "purpose",
    "policy_version",
    "decision",
    "reason",
    "duration_ms",
    "details",
)


class ReplaySourceError(Exception):
    """The events could not be read; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What the hash chain proves about the events a replay shows.

    ``verified`` is the range of seqs that verified (None: none did, or they could not be tied
    to anything trusted); ``first_bad_seq`` the first that did not.
    """

    source: str
    verified: tuple[int, int] | None
    first_bad_seq: int | None
    summary: str
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None and self.verified is not None

    def covers(self, first_seq: int, last_seq: int) -> bool:
        """True when every event from ``first_seq`` to ``last_seq`` is in the verified range."""
        if self.verified is None:
            return False
        low, high = self.verified
        return low <= first_seq and last_seq <= high


@dataclass(frozen=True, slots=True)
class LoadedEvents:
    events: tuple[ReplayEvent, ...]
    check: ChainCheck


class ReplaySource(Protocol):
    """A place the replay reads from; every method does I/O."""

    @property
    def kind(self) -> str: ...  # "local" or "server", as the audit events name it

    @property
    def name(self) -> str: ...

    def workstations(self) -> list[str]: ...

    def load(self, workstation: str) -> LoadedEvents: ...


# ---- this workstation's log ---------------------------------------------------------------------


class LocalLogSource:
    """The audit log file of this workstation, read-only."""

    kind = "local"

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return f"this workstation's audit log ({self.path})"

    def workstations(self) -> list[str]:
        return sorted({event.workstation for event in self._events()})

    def load(self, workstation: str) -> LoadedEvents:
        events = tuple(event for event in self._events() if event.workstation == workstation)
        try:
            verdict = verify_file(self.path)
        except AuditLogUnavailable as exc:
            raise ReplaySourceError(str(exc)) from exc
        return LoadedEvents(events, local_check(self.name, verdict))

    def _events(self) -> list[ReplayEvent]:
        try:
            return [ReplayEvent.from_fields(row) for row in read_events(self.path)]
        except AuditLogUnavailable as exc:
            raise ReplaySourceError(str(exc)) from exc
        except ValueError as exc:
            raise ReplaySourceError(
                f"{self.path}: an event cannot be read ({exc}); run `beacon audit verify`"
            ) from exc


def local_check(source: str, verdict: ChainVerdict) -> ChainCheck:
    truncation = (
        "A chain cannot show events cut off its end; only a checkpoint held by the sync server "
        "can (`beacon audit verify --against-server`)."
    )
    if verdict.intact:
        return ChainCheck(
            source,
            (1, verdict.count) if verdict.count else None,
            None,
            f"Hash chain intact: all {verdict.count} events of the local log verify "
            f"(events 1 to {verdict.count}).",
            (truncation,),
        )
    bad = verdict.first_bad_seq
    assert bad is not None
    return ChainCheck(
        source,
        (1, bad - 1) if bad > 1 else None,
        bad,
        f"Hash chain BROKEN at event {bad}: {verdict.problem}. The {verdict.count} events "
        f"before it verify; event {bad} and every later one cannot be trusted.",
        (truncation,),
    )


# ---- the server's copy --------------------------------------------------------------------------


def replay_token_name(server_url: str, username: str) -> str:
    """The keyring name of a supervisor's token for reading the server's copy."""
    return f"sync-supervisor:{username}@{urlsplit(server_url).netloc}"


@dataclass(frozen=True, slots=True)
class _Received:
    event: ReplayEvent
    hash: bytes
    prev_hash: bytes
    fields: dict[str, Any]


class ServerCopySource:
    """The sync server's copy of every workstation's log, read with a supervisor token."""

    kind = "server"

    def __init__(
        self,
        server_url: str,
        token: TokenSource,
        *,
        since: datetime | None = None,
        pinned_key: Callable[[], bytes | None] = lambda: None,
        ca_file: Path | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.server_url = server_url
        self._token = token
        self._since = since
        self._pinned_key = pinned_key
        self._connection = SyncConnection(server_url, ca_file, connect_timeout_s, read_timeout_s)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credentials: CredentialStore,
        username: str,
        since: datetime | None = None,
    ) -> ServerCopySource | None:
        """The server ``[sync]`` names, or None when none is set; the key this workstation's
        sync client pinned (if it has) checks the server's checkpoints. Reads nothing yet."""
        sync = settings.sync
        if sync.server_url is None:
            return None
        state = SyncStateFile(
            settings.data_dir / STATE_FILE, sync.server_url, settings.sync_workstation_id
        )

        def pinned_key() -> bytes | None:
            saved = state.load()
            return saved.key.public_key if saved is not None and saved.key else None

        name = replay_token_name(sync.server_url, username)
        return cls(
            sync.server_url,
            lambda: credentials.get_secret(name),
            since=since,
            pinned_key=pinned_key,
            ca_file=sync.ca_file,
            connect_timeout_s=sync.connect_timeout_s,
            read_timeout_s=sync.read_timeout_s,
        )

    @property
    def name(self) -> str:
        return f"the sync server's copy ({self.server_url})"

    def workstations(self) -> list[str]:
        answer = self._get_all(lambda get: [get("/v1/workstations")])
        return sorted(str(row["workstation_id"]) for row in answer[0])

    def load(self, workstation: str) -> LoadedEvents:
        def fetch(get: Callable[[str], Any]) -> tuple[list[_Received], list[Any]]:
            received: list[_Received] = []
            cursor: str | None = None
            while True:
                query = {"workstation": workstation, "limit": PAGE_SIZE}
                if self._since is not None:
                    query["since"] = format_time(self._since)
                if cursor is not None:
                    query["cursor"] = cursor
                page = get(f"/v1/events?{urlencode(query)}")
                received += [_received(row) for row in page["events"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            received.sort(key=lambda item: item.event.seq)
            proofs: list[Any] = []
            if received:
                quoted = quote(workstation, safe="")
                checkpoint = get(f"/v1/workstations/{quoted}/checkpoint")
                inclusion = get(
                    f"/v1/workstations/{quoted}/inclusion?seq={received[-1].event.seq}"
                    f"&size={checkpoint['size']}"
                )
                proofs = [get("/v1/checkpoint-key"), checkpoint, inclusion]
            return received, proofs

        received, proofs = self._get_all(fetch)
        events = tuple(item.event for item in received)
        return LoadedEvents(events, self._check(received, proofs))

    def _get_all(self, work: Callable[[Callable[[str], Any]], Any]) -> Any:
        """Run ``work(get)`` over one connection; a failure becomes a ReplaySourceError."""
        try:
            token = keyring_token(self._token)
        except SyncStalled as exc:
            raise ReplaySourceError(exc.detail) from None
        if not token:
            raise ReplaySourceError(
                f"no supervisor token for {self.server_url} in the keyring: ask the server's "
                "administrator for one (`beacon server issue-token --role supervisor`) and "
                "store it with the replay's Token button"
            )
        link = ServerLink(self._connection)

        def get(path: str) -> Any:
            answer = link.request("GET", path, token)
            if answer.status in (401, 403):
                raise ReplaySourceError(
                    f"the server refused the supervisor token (HTTP {answer.status}): it is "
                    "unknown, expired, revoked or not a supervisor's; store a new one"
                )
            if answer.status != 200 or answer.body is None:
                detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
                endpoint = path.partition("?")[0]
                raise ReplaySourceError(
                    f"the server answered HTTP {answer.status} to {endpoint}"
                    + (f": {detail}" if isinstance(detail, str) else "")
                )
            return answer.body

        try:
            return work(get)
        except ServerUnreachable as exc:
            raise ReplaySourceError(f"the sync server cannot be reached: {exc}") from None
        except SyncStalled as exc:
            raise ReplaySourceError(f"{exc.reason}: {exc.detail}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ReplaySourceError(f"the server's answer is not understood ({exc!r})") from None
        finally:
            link.close()

    def _check(self, received: list[_Received], proofs: list[Any]) -> ChainCheck:
        source = self.name
        if not received:
            return ChainCheck(source, None, None, "The server holds no events in this range.")
        first, last = received[0].event.seq, received[-1].event.seq
        notes = [
            f"Events before {first} were not fetched; this check says nothing about them."
            if first > 1
            else "The fetched events start at the workstation's first event."
        ]
        bad = _first_bad(received)
        if bad is not None:
            seq, problem = bad
            return ChainCheck(
                source,
                (first, seq - 1) if seq > first else None,
                seq,
                f"Server copy BROKEN at event {seq}: {problem}. Events {first} to {seq - 1} "
                "verify; later ones cannot be trusted.",
                tuple(notes),
            )
        key_info, checkpoint_info, inclusion = proofs
        pinned = self._pinned_key()
        try:
            public_key = bytes.fromhex(key_info["public_key"])
            signed = SignedCheckpoint.from_wire(checkpoint_info)
            if pinned is not None and public_key != pinned:
                raise CheckpointError(
                    f"the server signs with key {key_id_for(public_key)}, not the key "
                    f"{key_id_for(pinned)} this workstation pinned"
                )
            signed.verify(public_key)
            proof = [bytes.fromhex(node) for node in inclusion["proof"]]
            verify_event_inclusion(signed.checkpoint, last, received[-1].hash, proof)
        except (CheckpointError, MerkleProofError, KeyError, TypeError, ValueError) as exc:
            # Not verified: a chain that is only consistent with itself may be a forgery.
            return ChainCheck(
                source,
                None,
                None,
                f"Events {first} to {last} recompute to their hashes and chain without a gap, "
                f"but they could NOT be tied to the server's signed checkpoint: {exc}.",
                tuple(notes),
            )
        checkpoint = signed.checkpoint
        trust = (
            "the key this workstation's sync client pinned"
            if pinned is not None
            else "the key the server presented now (this workstation has not pinned one)"
        )
        notes.append(
            f"Checkpoint: size {checkpoint.size}, root {checkpoint.root.hex()[:16]}…, signed "
            f"{checkpoint.time_text} with key {checkpoint.key_id}, {trust}."
        )
        return ChainCheck(
            source,
            (first, last),
            None,
            f"Server copy verified: events {first} to {last} recompute to their hashes and "
            f"chain without a gap, and event {last} is in the server's signed checkpoint of "
            f"size {checkpoint.size}.",
            tuple(notes),
        )


def _received(row: Mapping[str, Any]) -> _Received:
    time = row["time"]
    moment = datetime.fromisoformat(time.replace("Z", "+00:00")) if isinstance(time, str) else None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"event {row.get('seq')} has no UTC time")
    fields = {key: row[key] for key in HASHED_FIELDS}
    fields["v"] = ENCODING_VERSION
    fields["time"] = format_time(moment)
    event = ReplayEvent.from_fields(fields)
    return _Received(event, bytes.fromhex(row["hash"]), bytes.fromhex(row["prev_hash"]), fields)


def _first_bad(received: Iterable[_Received]) -> tuple[int, str] | None:
    """The first event that does not recompute to its hash or does not follow the one before."""
    before: _Received | None = None
    for item in received:
        seq = item.event.seq
        if before is not None:
            if seq != before.event.seq + 1:
                return before.event.seq + 1, f"event {before.event.seq + 1} is missing"
            if item.prev_hash != before.hash:
                return seq, f"event {seq} does not follow the hash of event {seq - 1}"
        if chain_hash(item.prev_hash, seq, canonical_bytes(item.fields)) != item.hash:
            return seq, f"event {seq} does not match its hash"
        before = item
    return None


def store_replay_token(
    credentials: CredentialStore, server_url: str, username: str, token: str
) -> None:
    """Keep a supervisor's token in the keyring (never in a file, a log or the audit log)."""
    token = token.strip()
    if not token or any(character.isspace() or not character.isprintable() for character in token):
        raise ReplaySourceError("that is not a token: paste the one line the server gave out")
    credentials.set_secret(replay_token_name(server_url, username), token)
