"""The evidence vault on real files: round trip, and every kind of tampering read back loudly."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from server.evidence_vault import (
    MAGIC,
    SEGMENT_SIZE,
    EvidenceTampered,
    EvidenceVault,
    SealedKey,
    VaultKeyError,
    load_vault_key,
)

EVIDENCE_ID = "0123456789abcdef0123456789abcdef"


def _store(
    vault: EvidenceVault, data: bytes, evidence_id: str = EVIDENCE_ID
) -> tuple[SealedKey, int]:
    sealed, length = vault.create(evidence_id)
    writer = vault.append(evidence_id, sealed, length)
    try:
        pieces = [data[i : i + SEGMENT_SIZE] for i in range(0, len(data), SEGMENT_SIZE)]
        for number, piece in enumerate(pieces):
            writer.write(piece, final=number == len(pieces) - 1)
    finally:
        writer.close()
    vault.seal(evidence_id)
    return sealed, writer.segments


def _segment_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offsets, at = [], len(MAGIC)
    while at < len(data):
        offsets.append(at)
        at += 5 + struct.unpack(">I", data[at + 1 : at + 5])[0]
    return offsets


@pytest.fixture
def vault(tmp_path: Path) -> EvidenceVault:
    return EvidenceVault(tmp_path / "vault", load_vault_key(tmp_path / "keys" / "vault-key"))


@pytest.fixture
def payload() -> bytes:
    return os.urandom(3 * SEGMENT_SIZE + 12345)


def test_a_file_reads_back_byte_for_byte_and_is_sealed(vault: EvidenceVault, payload: bytes):
    sealed, segments = _store(vault, payload)
    assert segments == 4
    assert b"".join(vault.read(EVIDENCE_ID, sealed, segments)) == payload
    path = vault.path(EVIDENCE_ID)
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert payload[:4096] not in path.read_bytes()  # encrypted at rest
    assert not vault.partial_path(EVIDENCE_ID).exists()


def test_an_evidence_id_is_never_written_twice(vault: EvidenceVault, payload: bytes):
    _store(vault, payload)
    with pytest.raises(FileExistsError):
        vault.create(EVIDENCE_ID)


def test_a_name_from_outside_never_becomes_a_path(vault: EvidenceVault):
    for name in ("../../etc/passwd", "a/b", "", "x" * 65, "ABC"):
        with pytest.raises(ValueError, match="not an evidence id"):
            vault.create(name)


def test_one_flipped_byte_is_detected(vault: EvidenceVault, payload: bytes):
    sealed, segments = _store(vault, payload)
    path = vault.path(EVIDENCE_ID)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[_segment_offsets(path)[2] + 100] ^= 0x01
    path.write_bytes(bytes(data))
    read = vault.read(EVIDENCE_ID, sealed, segments)
    assert next(read) == payload[:SEGMENT_SIZE]  # the segments before it still read
    next(read)
    with pytest.raises(EvidenceTampered, match="segment 2 does not authenticate"):
        next(read)


def test_a_file_cut_short_is_detected(vault: EvidenceVault, payload: bytes):
    sealed, segments = _store(vault, payload)
    path = vault.path(EVIDENCE_ID)
    os.chmod(path, 0o600)
    last = _segment_offsets(path)[-1]
    os.truncate(path, last)  # the final segment is gone
    with pytest.raises(EvidenceTampered, match="cut short"):
        b"".join(vault.read(EVIDENCE_ID, sealed, segments))
    # and with the record edited to match, the missing FINAL mark still gives it away
    with pytest.raises(EvidenceTampered, match="marked not final"):
        b"".join(vault.read(EVIDENCE_ID, sealed, segments - 1))


def test_swapped_segments_are_detected(vault: EvidenceVault, payload: bytes):
    sealed, segments = _store(vault, payload)
    path = vault.path(EVIDENCE_ID)
    os.chmod(path, 0o600)
    data = path.read_bytes()
    first, second, third, _ = _segment_offsets(path)
    path.write_bytes(data[:first] + data[second:third] + data[first:second] + data[third:])
    with pytest.raises(EvidenceTampered, match="segment 0 does not authenticate"):
        b"".join(vault.read(EVIDENCE_ID, sealed, segments))


def test_a_segment_from_another_file_is_detected(vault: EvidenceVault, payload: bytes):
    sealed, segments = _store(vault, payload)
    other_id = "f" * 32
    _store(vault, payload, other_id)
    os.chmod(vault.path(EVIDENCE_ID), 0o600)
    vault.path(EVIDENCE_ID).write_bytes(vault.path(other_id).read_bytes())
    with pytest.raises(EvidenceTampered, match="does not authenticate"):
        b"".join(vault.read(EVIDENCE_ID, sealed, segments))


def test_another_vault_key_cannot_unwrap_the_data_key(tmp_path: Path, payload: bytes):
    vault = EvidenceVault(tmp_path / "vault", load_vault_key(tmp_path / "one"))
    sealed, segments = _store(vault, payload)
    other = EvidenceVault(tmp_path / "vault", load_vault_key(tmp_path / "two"))
    with pytest.raises(EvidenceTampered, match="does not unwrap"):
        b"".join(other.read(EVIDENCE_ID, sealed, segments))


def test_the_vault_key_file_is_private_and_kept(tmp_path: Path):
    path = tmp_path / "keys" / "vault-key"
    key = load_vault_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_vault_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(VaultKeyError, match="not a vault key"):
        load_vault_key(path)
