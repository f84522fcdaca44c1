"""``beacon audit verify --against-server``: the local audit log against the sync server's
signed checkpoints.

A hash chain alone cannot show that events were cut off its end, nor that someone who can write
the file rewrote an event and re-chained everything after it. The sync server's checkpoints can:
each is the signed ``(size, root)`` of the workstation's RFC 9162 Merkle tree, leaf ``i`` being
the chain hash of event ``i + 1`` (``app.models.checkpoint``), and the sync client keeps the last
one it verified, with the server key it pinned, in ``audit-sync.json``. The checks, in order,
each giving one ``CheckResult``:

1. stored checkpoint: the state file's checkpoint verifies with the pinned key.
2. log vs stored checkpoint: the log still has the checkpoint's ``size`` events, and their chain
   hashes give its root and head (a truncation below it, or any rewrite of acknowledged events,
   changes them).
3. server key: the server still signs with the pinned key.
4. server checkpoint: its latest checkpoint verifies with the pinned key and (a consistency
   proof) extends the stored one, so the server has not forked or rolled back its copy either.
5. log vs server: the log is not shorter than what the server acknowledged, and its first
   ``size`` events give the server checkpoint's root.

A check that cannot be made (no state file, the server down, no token) says so and why; the
others still run. Nothing here writes to the log, the state file or the server.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.models.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
    event_leaf_hash,
    key_id_for,
    verify_extension,
)
from app.models.merkle import MerkleProofError, MerkleTree
from app.services.audit_log import read_events
from app.services.audit_sync import STATE_FORMAT
from app.services.sync_link import (
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    answer_detail,
    keyring_token,
    proof_hashes,
)


class CheckStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "FAILED"
    NOT_RUN = "not run"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: CheckStatus
    text: str

    def line(self) -> str:
        return f"[{self.status}] {self.name}: {self.text}"


@dataclass(frozen=True, slots=True)
class _Pinned:
    """What the state file holds that this check trusts: the key and the last checkpoint."""

    public_key: bytes
    key_id: str
    checkpoint: SignedCheckpoint | None


class _CannotRun(Exception):
    """A check has nothing to work with; the text says why."""


class _Failed(Exception):
    """A check found the log or the server's copy not as signed; the text says how."""


STORED = "stored checkpoint"
LOCAL_VS_STORED = "log vs stored checkpoint"
SERVER_KEY = "server key"
SERVER_CHECKPOINT = "server checkpoint"
LOCAL_VS_SERVER = "log vs server"


class _LocalTree:
    """The Merkle tree of the local log's chain hashes, for any size up to its own."""

    def __init__(self, audit_path: Path) -> None:
        self.chain_hashes: list[bytes] = []
        self.tree = MerkleTree()
        for expected, row in enumerate(read_events(audit_path), start=1):
            if row["seq"] != expected:
                break  # a gap: the chain check names it; the tree ends before it
            chain_hash = bytes.fromhex(row["hash"])
            self.chain_hashes.append(chain_hash)
            self.tree.append_leaf_hash(event_leaf_hash(chain_hash))

    @property
    def size(self) -> int:
        return self.tree.size

    def compare(self, checkpoint: Checkpoint, whose: str) -> str:
        """What the log says to ``checkpoint``; raises ``_Failed`` if it does not give it."""
        size = checkpoint.size
        if size > self.size:
            raise _Failed(
                f"the log has {self.size} events, but {whose} of {size} events (signed "
                f"{checkpoint.time_text}): events {self.size + 1}..{size} were cut off the log "
                "after the server acknowledged them"
            )
        if size and (
            self.chain_hashes[size - 1] != checkpoint.head_hash
            or self.tree.root(size) != checkpoint.root
        ):
            raise _Failed(
                f"events 1..{size} of the log do not give the root of {whose} (signed "
                f"{checkpoint.time_text}): events were rewritten after the server acknowledged "
                "them"
            )
        return f"events 1..{size} give the root of {whose}"


def _read_state(state_path: Path, server_url: str, workstation_id: str) -> _Pinned:
    """The pinned key and the stored checkpoint, read strictly: an altered file must say so,
    not pass for a missing one. A checkpoint that does not verify is returned all the same;
    the stored checkpoint check reports it."""
    try:
        data = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _CannotRun(
            f"no sync state file {state_path}: the server's key was never pinned here "
            "(run `beacon sync now` once)"
        ) from None
    except (OSError, ValueError) as exc:
        raise _Failed(f"the sync state file {state_path} cannot be read: {exc}") from None
    try:
        if data["server_url"] != server_url or data["workstation_id"] != workstation_id:
            raise _CannotRun(
                f"the sync state file {state_path} is for workstation {data['workstation_id']} "
                f"at {data['server_url']}, not {workstation_id} at {server_url}"
            )
        if data["format"] != STATE_FORMAT or data["server_key"] is None:
            raise _CannotRun(
                f"the sync state file {state_path} holds no pinned server key yet "
                "(run `beacon sync now` once)"
            )
        public_key = bytes.fromhex(data["server_key"]["public_key"])
        key_id = data["server_key"]["key_id"]
        if key_id_for(public_key) != key_id:
            raise _Failed(
                f"the sync state file {state_path} pins key {key_id}, but its public key has "
                f"id {key_id_for(public_key)}: the file was altered"
            )
        checkpoint = data["checkpoint"]
        stored = SignedCheckpoint.from_wire(checkpoint) if checkpoint is not None else None
    except (KeyError, TypeError, ValueError) as exc:  # CheckpointError is a ValueError
        raise _Failed(f"the sync state file {state_path} is malformed: {exc!r}") from None
    return _Pinned(public_key, key_id, stored)


class _Server:
    """The few read-only requests the check makes, each failure a ``_CannotRun``."""

    def __init__(self, link: ServerLink, workstation_id: str, token: str) -> None:
        self._link = link
        self._token = token
        self._base = f"/v1/workstations/{quote(workstation_id, safe='')}"

    def get(self, path: str) -> Any:
        try:
            answer = self._link.request("GET", path, self._token)
        except ServerUnreachable as exc:
            raise _CannotRun(f"server unreachable: {exc}") from None
        except SyncStalled as exc:
            raise _CannotRun(f"{exc.reason}: {exc.detail}") from None
        if answer.status != 200:
            raise _CannotRun(f"GET {path} answered {answer.status}: {answer_detail(answer)}")
        return answer.body

    def key(self) -> tuple[bytes, str]:
        body = self.get("/v1/checkpoint-key")
        try:
            return bytes.fromhex(body["public_key"]), str(body["key_id"])
        except (KeyError, TypeError, ValueError):
            raise _CannotRun(
                "the server's checkpoint key is not what this client expects"
            ) from None

    def checkpoint(self) -> SignedCheckpoint:
        try:
            return SignedCheckpoint.from_wire(self.get(f"{self._base}/checkpoint"))
        except CheckpointError as exc:
            raise _Failed(f"the server's checkpoint cannot be read: {exc}") from None

    def consistency(self, first: int, second: int) -> list[bytes]:
        body = self.get(f"{self._base}/consistency?first={first}&second={second}")
        try:
            return proof_hashes(body["proof"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _Failed(f"the server's consistency proof cannot be read: {exc!r}") from None


def _run(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, CheckStatus.OK, check())
    except _Failed as exc:
        return CheckResult(name, CheckStatus.FAILED, str(exc))
    except _CannotRun as exc:
        return CheckResult(name, CheckStatus.NOT_RUN, str(exc))


def check_against_server(
    *,
    audit_path: Path,
    state_path: Path,
    connection: SyncConnection,
    workstation_id: str,
    token: TokenSource,
) -> Iterator[CheckResult]:
    """The five checks of the module's docstring, each as soon as it is made. The local
    chain itself is ``audit_log.verify_file``'s to check, before these."""
    local = _LocalTree(audit_path)
    pinned: _Pinned | None = None
    stored_ok = False

    def stored() -> str:
        nonlocal pinned, stored_ok
        pinned = _read_state(state_path, connection.server_url, workstation_id)
        if pinned.checkpoint is None:
            raise _CannotRun(f"{state_path} holds no checkpoint yet (run `beacon sync now`)")
        try:
            pinned.checkpoint.verify(pinned.public_key)
        except CheckpointError as exc:
            raise _Failed(f"{exc} ({state_path})") from None
        if pinned.checkpoint.checkpoint.workstation_id != workstation_id:
            raise _Failed(
                f"the stored checkpoint is of workstation "
                f"{pinned.checkpoint.checkpoint.workstation_id}, not {workstation_id}"
            )
        stored_ok = True
        checkpoint = pinned.checkpoint.checkpoint
        return (
            f"{checkpoint.size} events, signed {checkpoint.time_text} with the pinned key "
            f"{pinned.key_id}"
        )

    def local_vs_stored() -> str:
        if not stored_ok or pinned is None or pinned.checkpoint is None:
            raise _CannotRun("no verified stored checkpoint to compare with")
        return local.compare(pinned.checkpoint.checkpoint, "the stored checkpoint")

    yield _run(STORED, stored)
    yield _run(LOCAL_VS_STORED, local_vs_stored)

    link = ServerLink(connection)
    try:
        yield from _server_checks(link, local, pinned, stored_ok, workstation_id, token)
    finally:
        link.close()


def _server_checks(
    link: ServerLink,
    local: _LocalTree,
    pinned: _Pinned | None,
    stored_ok: bool,
    workstation_id: str,
    token: TokenSource,
) -> Iterator[CheckResult]:
    server: _Server | None = None
    latest: SignedCheckpoint | None = None
    trusted_key = False

    def connect() -> _Server:
        nonlocal server
        try:
            secret = keyring_token(token)
        except SyncStalled as exc:
            raise _CannotRun(f"{exc.reason}: {exc.detail}") from None
        if not secret:
            raise _CannotRun("no sync token in the keyring (store it with `beacon sync token`)")
        server = _Server(link, workstation_id, secret)
        return server

    def server_key() -> str:
        nonlocal trusted_key
        if pinned is None:
            raise _CannotRun("no pinned server key to check the server's checkpoints with")
        public_key, key_id = connect().key()
        if public_key != pinned.public_key:
            raise _Failed(
                f"the server signs with key {key_id}, not with the key {pinned.key_id} this "
                "workstation pinned: the state file was altered, the server's key was "
                "replaced, or it is another server"
            )
        trusted_key = True
        return f"the server signs with the pinned key {key_id}"

    def server_checkpoint() -> str:
        nonlocal latest
        if server is None or pinned is None or not trusted_key:
            raise _CannotRun("no trusted server key")
        signed = server.checkpoint()
        try:
            signed.verify(pinned.public_key)
        except CheckpointError as exc:
            raise _Failed(str(exc)) from None
        new = signed.checkpoint
        if new.workstation_id != workstation_id:
            raise _Failed(f"the server sent a checkpoint of workstation {new.workstation_id}")
        text = f"{new.size} events, signed {new.time_text}"
        old = pinned.checkpoint.checkpoint if stored_ok and pinned.checkpoint else None
        if old is not None:
            if new.size < old.size:
                raise _Failed(
                    f"the server now holds {new.size} events, but signed a checkpoint of "
                    f"{old.size} at {old.time_text}: its copy was rolled back"
                )
            try:
                verify_extension(old, new, server.consistency(old.size, new.size))
            except (MerkleProofError, CheckpointError) as exc:
                raise _Failed(
                    f"{exc}: the server's copy does not extend the stored checkpoint of "
                    f"{old.size} events (forked or rewritten)"
                ) from None
            text += f", extends the stored checkpoint of {old.size} events"
        latest = signed
        return text

    def local_vs_server() -> str:
        if latest is None:
            raise _CannotRun("no verified server checkpoint to compare with")
        text = local.compare(latest.checkpoint, "the server's checkpoint")
        pending = local.size - latest.checkpoint.size
        return f"{text}; {pending} newer events not yet acknowledged" if pending else text

    yield _run(SERVER_KEY, server_key)
    yield _run(SERVER_CHECKPOINT, server_checkpoint)
    yield _run(LOCAL_VS_SERVER, local_vs_server)
