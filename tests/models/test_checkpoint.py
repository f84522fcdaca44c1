"""Signed checkpoints: the canonical encoding, Ed25519 verification, and the proof helpers."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.models.audit_chain import GENESIS_HASH, chain_hash
from app.models.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
    event_leaf_hash,
    key_id_for,
    verify_event_inclusion,
    verify_extension,
)
from app.models.merkle import EMPTY_ROOT, MerkleProofError, MerkleTree

MOMENT = datetime(2026, 11, 21, 19, 1, 52, 123456, tzinfo=UTC)


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> SignedCheckpoint:
    return SignedCheckpoint(checkpoint, key.sign(checkpoint.signed_bytes()))


def chain(count: int) -> list[bytes]:
    """The chain hashes of ``count`` made-up events."""
    hashes, previous = [], GENESIS_HASH
    for seq in range(1, count + 1):
        previous = chain_hash(previous, seq, b'{"event":%d}' % seq)
        hashes.append(previous)
    return hashes


def tree_of(hashes: list[bytes]) -> MerkleTree:
    return MerkleTree(event_leaf_hash(digest) for digest in hashes)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def checkpoint_for(key: Ed25519PrivateKey, size: int, hashes: list[bytes]) -> Checkpoint:
    tree = tree_of(hashes)
    return Checkpoint(
        "rtcc-ws-03",
        size,
        tree.root(size),
        hashes[size - 1] if size else GENESIS_HASH,
        MOMENT,
        key_id_for(raw(key)),
    )


def test_the_canonical_encoding_is_seven_documented_lines():
    root, head = bytes(range(32)), bytes(range(32, 64))
    checkpoint = Checkpoint("rtcc-ws-03", 1234, root, head, MOMENT, "0123456789abcdef")

    assert checkpoint.signed_bytes() == (
        b"beacon-audit-checkpoint/v1\n"
        b"rtcc-ws-03\n"
        b"1234\n"
        b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        b"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"
        b"2026-11-21T19:01:52.123456Z\n"
        b"0123456789abcdef\n"
    )
    # A time in another zone is written as UTC.
    elsewhere = dataclasses.replace(
        checkpoint, time=MOMENT.astimezone(timezone(timedelta(hours=-5)))
    )
    assert elsewhere.signed_bytes() == checkpoint.signed_bytes()


def test_the_key_id_is_the_start_of_the_public_keys_sha256(key):
    assert key_id_for(raw(key)) == hashlib.sha256(raw(key)).hexdigest()[:16]
    with pytest.raises(CheckpointError, match="32 bytes"):
        key_id_for(b"short")


def test_the_leaf_is_the_events_chain_hash():
    digest = chain(1)[0]
    assert event_leaf_hash(digest) == hashlib.sha256(b"\x00" + digest).digest()
    with pytest.raises(CheckpointError):
        event_leaf_hash(b"\x00" * 31)


def test_a_signed_checkpoint_verifies_and_survives_the_wire(key):
    signed = sign(key, checkpoint_for(key, 5, chain(7)))

    signed.verify(raw(key))
    wire = signed.to_wire()
    assert wire["time"] == "2026-11-21T19:01:52.123456Z"
    assert len(str(wire["signature"])) == 128
    again = SignedCheckpoint.from_wire(wire)
    assert again == signed
    again.verify(raw(key))


@pytest.mark.parametrize(
    "change",
    [
        {"workstation_id": "rtcc-ws-04"},
        {"size": 4},
        {"root": "00" * 32},
        {"head_hash": "11" * 32},
        {"time": "2026-11-21T19:01:52.123457Z"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_altering_any_field_breaks_the_signature(key, change):
    wire = {**sign(key, checkpoint_for(key, 5, chain(7))).to_wire(), **change}

    with pytest.raises(CheckpointError, match="does not verify"):
        SignedCheckpoint.from_wire(wire).verify(raw(key))


def test_a_flipped_signature_bit_or_another_key_fails(key):
    signed = sign(key, checkpoint_for(key, 3, chain(3)))
    flipped = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    with pytest.raises(CheckpointError, match="does not verify"):
        SignedCheckpoint(signed.checkpoint, flipped).verify(raw(key))

    other = Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointError, match="not the server key"):
        signed.verify(raw(other))
    # A checkpoint claiming the trusted key's id, but signed with another key.
    impostor = sign(other, signed.checkpoint)
    with pytest.raises(CheckpointError, match="does not verify"):
        impostor.verify(raw(key))
    # Changing the key id alone is caught by the signature too.
    renamed = dataclasses.replace(signed.checkpoint, key_id=key_id_for(raw(other)))
    with pytest.raises(CheckpointError, match="does not verify"):
        SignedCheckpoint(renamed, signed.signature).verify(raw(other))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workstation_id": "ws\n1"}, "workstation id"),
        ({"workstation_id": ""}, "workstation id"),
        ({"size": -1}, "outside"),
        ({"size": True}, "integer"),
        ({"size": "5"}, "integer"),
        ({"root": "AB" * 32}, "lowercase hex"),
        ({"head_hash": "ab" * 31}, "64 lowercase hex"),
        ({"time": "2026-11-21T19:01:52Z"}, "not like"),
        ({"time": "2026-02-30T19:01:52.000000Z"}, "real date"),
        ({"key_id": "0123"}, "key id"),
        ({"signature": "ab" * 63}, "128 lowercase hex"),
        ({"extra": 1}, "unknown extra"),
    ],
)
def test_the_wire_form_is_read_strictly(key, change, message):
    wire = {**sign(key, checkpoint_for(key, 5, chain(7))).to_wire(), **change}
    with pytest.raises(CheckpointError, match=message):
        SignedCheckpoint.from_wire(wire)


def test_a_missing_field_is_named(key):
    wire = sign(key, checkpoint_for(key, 5, chain(7))).to_wire()
    del wire["root"]
    with pytest.raises(CheckpointError, match="missing root"):
        SignedCheckpoint.from_wire(wire)


def test_the_empty_tree_has_its_own_root_and_the_genesis_head(key):
    empty = checkpoint_for(key, 0, chain(2))
    assert empty.root == EMPTY_ROOT and empty.head_hash == GENESIS_HASH
    with pytest.raises(CheckpointError, match="size 0"):
        dataclasses.replace(empty, head_hash=chain(1)[0])
    with pytest.raises(CheckpointError, match="timezone"):
        dataclasses.replace(empty, time=datetime(2026, 11, 21))


def test_event_inclusion_against_a_checkpoint(key):
    hashes = chain(11)
    tree = tree_of(hashes)
    checkpoint = checkpoint_for(key, 11, hashes)
    for seq in range(1, 12):
        verify_event_inclusion(checkpoint, seq, hashes[seq - 1], tree.inclusion_proof(seq - 1, 11))
    with pytest.raises(MerkleProofError):
        verify_event_inclusion(checkpoint, 4, hashes[4], tree.inclusion_proof(3, 11))
    with pytest.raises(MerkleProofError, match="too short"):
        verify_event_inclusion(checkpoint, 4, hashes[3], tree.inclusion_proof(3, 8))


def test_a_newer_checkpoint_extends_an_older_one(key):
    hashes = chain(20)
    tree = tree_of(hashes)
    old, new = checkpoint_for(key, 7, hashes), checkpoint_for(key, 20, hashes)

    verify_extension(old, new, tree.consistency_proof(7, 20))
    verify_extension(checkpoint_for(key, 0, hashes), new, [])
    verify_extension(new, new, [])
    with pytest.raises(MerkleProofError, match="rolled back"):
        verify_extension(new, old, [])
    with pytest.raises(CheckpointError, match="workstations"):
        verify_extension(old, dataclasses.replace(new, workstation_id="rtcc-ws-04"), [])


def test_a_forked_log_is_caught(key):
    hashes = chain(20)
    old = checkpoint_for(key, 7, hashes)
    # The server's copy rewritten from event 5 on: a valid chain, but another one.
    forked = hashes[:4] + [hashlib.sha256(b"forged %d" % n).digest() for n in range(16)]
    forked_tree = tree_of(forked)
    new = checkpoint_for(key, 20, forked)
    with pytest.raises(MerkleProofError, match="old root"):
        verify_extension(old, new, forked_tree.consistency_proof(7, 20))
    # The same size with another head (the root reused to hide it) is a fork as well.
    twin = dataclasses.replace(old, head_hash=forked[6])
    with pytest.raises(MerkleProofError, match="two different heads"):
        verify_extension(old, twin, [])
