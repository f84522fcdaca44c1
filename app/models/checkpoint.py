"""The audit sync server's signed checkpoints, and how a client verifies them.

A checkpoint is the server's signed statement that a workstation's Merkle tree (``merkle.py``)
of ``size`` events has ``root``, and that its last event has chain hash ``head_hash``. The sync
client stores the last one it verified; the next one must extend it (a consistency proof), so a
server that forks, rewrites or rolls back its copy of the log is caught. This module is the one
encoding and the one verifier both sides use; the server signs (``server.checkpoint_key``).

Leaves
    Leaf ``seq - 1`` of a workstation's tree is the event's chain hash, the 32 bytes of
    ``audit_chain.chain_hash`` (``SHA-256(prev || seq || canonical)``): the leaf hash is
    ``SHA-256(0x00 || chain_hash)`` (``event_leaf_hash``). The chain hash already binds the
    event's canonical bytes, its sequence number and every event before it, so it is the whole
    event for the tree's purposes, and a client can check proofs from its own log's hashes
    without re-encoding anything.

Canonical encoding, version 1 (``Checkpoint.signed_bytes``)
    Seven lines of UTF-8 text, each ending in a line feed (``0x0A``), nothing else::

        beacon-audit-checkpoint/v1
        <workstation_id>                   [A-Za-z0-9][A-Za-z0-9._-]{0,63}
        <size>                             decimal, no sign, no leading zeros (0 for empty)
        <root>                             64 lowercase hex digits
        <head_hash>                        64 lowercase hex digits (64 zeros for size 0)
        <time>                             2026-11-21T19:01:52.123456Z (UTC, 6 digits)
        <key_id>                           16 lowercase hex digits

    No field can hold a line feed, so the encoding is unambiguous; the first line keeps a
    signature over a checkpoint from passing for a signature over anything else. ``time`` is
    the server's clock when it signed: two checkpoints of the same size may differ in time,
    never in root or head.

Signature
    Ed25519 (RFC 8032) over those bytes, 64 bytes. ``key_id`` is the first 8 bytes of
    SHA-256 of the server's raw 32-byte public key, in hex (``key_id_for``).

Wire form (``to_wire`` / ``from_wire``): a JSON object of the six fields (bytes as lowercase
hex, ``time`` as in the encoding) plus ``signature``, 128 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.models.audit_chain import GENESIS_HASH, format_time, parse_time
from app.models.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

CHECKPOINT_HEADER = "beacon-audit-checkpoint/v1"
KEY_ALGORITHM = "Ed25519"
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 8
MAX_SIZE = 2**63 - 1

WORKSTATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_WORKSTATION_ID = re.compile(WORKSTATION_ID_PATTERN)
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_HEX = re.compile(r"^(?:[0-9a-f]{2})*$")
_WIRE_FIELDS = frozenset(
    {"workstation_id", "size", "root", "head_hash", "time", "key_id", "signature"}
)


class CheckpointError(ValueError):
    """A checkpoint is malformed, not signed by the trusted key, or does not fit; says why."""


def event_leaf_hash(chain_hash: bytes) -> bytes:
    """The leaf hash of an event in its workstation's tree: ``SHA-256(0x00 || chain_hash)``."""
    if len(chain_hash) != HASH_SIZE:
        raise CheckpointError(f"an event's chain hash is {HASH_SIZE} bytes, not {len(chain_hash)}")
    return leaf_hash(chain_hash)


def key_id_for(public_key: bytes) -> str:
    """The id of a raw 32-byte Ed25519 public key: its SHA-256, first 8 bytes, in hex."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise CheckpointError(
            f"an {KEY_ALGORITHM} public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}"
        )
    return hashlib.sha256(public_key).digest()[:KEY_ID_SIZE].hex()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What the server signs: workstation ``workstation_id`` has ``size`` events in its tree."""

    workstation_id: str
    size: int
    root: bytes
    head_hash: bytes
    time: datetime
    key_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.workstation_id, str) or not _WORKSTATION_ID.match(
            self.workstation_id
        ):
            raise CheckpointError(f"{self.workstation_id!r} is not a workstation id")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"the size must be an integer, not {self.size!r}")
        if not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError(f"the size {self.size} is outside 0..{MAX_SIZE}")
        for name, value in (("root", self.root), ("head_hash", self.head_hash)):
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise CheckpointError(f"the {name} must be {HASH_SIZE} bytes")
        if self.size == 0 and (self.root != EMPTY_ROOT or self.head_hash != GENESIS_HASH):
            raise CheckpointError(
                "a checkpoint of size 0 has the empty tree's root and a head of 32 zero bytes"
            )
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise CheckpointError("the time must be timezone-aware")
        if not isinstance(self.key_id, str) or not _KEY_ID.match(self.key_id):
            raise CheckpointError(f"{self.key_id!r} is not a key id (16 lowercase hex digits)")

    @property
    def time_text(self) -> str:
        return format_time(self.time)

    def signed_bytes(self) -> bytes:
        """The canonical encoding, version 1 (see the module's docstring)."""
        lines = (
            CHECKPOINT_HEADER,
            self.workstation_id,
            str(self.size),
            self.root.hex(),
            self.head_hash.hex(),
            self.time_text,
            self.key_id,
        )
        return "".join(f"{line}\n" for line in lines).encode("utf-8")


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: bytes

    def verify(self, public_key: bytes) -> None:
        """Check the signature with the server's raw public key; raise ``CheckpointError``."""
        trusted = key_id_for(public_key)
        if self.checkpoint.key_id != trusted:
            raise CheckpointError(
                f"the checkpoint names signing key {self.checkpoint.key_id}, not the server key "
                f"{trusted} this workstation trusts: the server's key changed, or it is "
                "another server"
            )
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                self.signature, self.checkpoint.signed_bytes()
            )
        except InvalidSignature as exc:
            raise CheckpointError(
                f"the signature on the checkpoint of {self.checkpoint.workstation_id} at size "
                f"{self.checkpoint.size} does not verify with key {trusted}: it was altered or "
                "not signed by the server"
            ) from exc

    def to_wire(self) -> dict[str, object]:
        checkpoint = self.checkpoint
        return {
            "workstation_id": checkpoint.workstation_id,
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "head_hash": checkpoint.head_hash.hex(),
            "time": checkpoint.time_text,
            "key_id": checkpoint.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, object]) -> SignedCheckpoint:
        """Read the wire form strictly; raise ``CheckpointError`` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise CheckpointError("a checkpoint is a JSON object")
        missing = _WIRE_FIELDS - set(data)
        extra = set(data) - _WIRE_FIELDS
        if missing or extra:
            problems = [f"missing {', '.join(sorted(missing))}"] if missing else []
            problems += [f"unknown {', '.join(sorted(map(str, extra)))}"] if extra else []
            raise CheckpointError(f"not a checkpoint: {'; '.join(problems)}")
        time = data["time"]
        if not isinstance(time, str) or not _TIME.match(time):
            raise CheckpointError(f"the time {time!r} is not like 2026-11-21T19:01:52.123456Z")
        try:
            moment = parse_time(time)
        except ValueError as exc:
            raise CheckpointError(f"the time {time!r} is not a real date") from exc
        checkpoint = Checkpoint(
            workstation_id=data["workstation_id"],  # type: ignore[arg-type]  # checked there
            size=data["size"],  # type: ignore[arg-type]
            root=_hex(data["root"], "root", HASH_SIZE),
            head_hash=_hex(data["head_hash"], "head_hash", HASH_SIZE),
            time=moment,
            key_id=data["key_id"],  # type: ignore[arg-type]
        )
        return cls(checkpoint, _hex(data["signature"], "signature", SIGNATURE_SIZE))


def verify_event_inclusion(
    checkpoint: Checkpoint, seq: int, chain_hash: bytes, proof: Sequence[bytes]
) -> None:
    """Check that event ``seq`` with ``chain_hash`` is in the tree ``checkpoint`` signs.

    Raises ``merkle.MerkleProofError`` (a ``ValueError``) saying why not.
    """
    verify_inclusion(event_leaf_hash(chain_hash), seq - 1, checkpoint.size, proof, checkpoint.root)


def verify_extension(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that ``new`` extends ``old``: same workstation, the old tree a prefix of the new.

    ``proof`` is the consistency proof from ``old.size`` to ``new.size``. Raises
    ``merkle.MerkleProofError`` when the server has forked, rewritten or rolled back the log,
    ``CheckpointError`` when the two are not checkpoints of one workstation.
    """
    if old.workstation_id != new.workstation_id:
        raise CheckpointError(
            f"the checkpoints are of workstations {old.workstation_id} and {new.workstation_id}"
        )
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    if old.size == new.size and old.head_hash != new.head_hash:
        raise MerkleProofError(
            f"the server has signed two different heads for size {new.size}: it has forked"
        )


def _hex(value: object, name: str, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.match(value):
        raise CheckpointError(f"the {name} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(value)
