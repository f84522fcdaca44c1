"""The evidence vault: files owners send, encrypted at rest, written once, readable as a stream.

Each file gets a fresh random 256-bit data key, kept only wrapped by the vault key (AES key
wrap, RFC 3394) in the database; the vault key lives in a key file of its own (0600) and never
in the database. A file is a magic header and a sequence of segments of at most
``SEGMENT_SIZE`` plaintext bytes, each sealed on its own with AES-256-GCM::

    segment = flags (1 byte: FINAL or 0) | length of the ciphertext (4 bytes, big-endian)
              | ciphertext with its 16-byte tag
    nonce   = the file's random 8-byte prefix | segment index (4 bytes, big-endian)
    associated data = "beacon-evidence-v1" | evidence id | segment index | flags

so a file streams in constant memory, and a changed byte, a segment swapped with another or
taken from another file, or a file cut short (no FINAL segment at its end) fails loudly when it
is read. A file is written under ``partial/`` while it arrives (created with O_EXCL, only ever
appended to), then sealed: made read-only and linked into ``evidence/`` under its evidence id,
never under a name the owner chose.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

log = logging.getLogger(__name__)

SEGMENT_SIZE = 1024 * 1024
KEY_BYTES = 32
NONCE_PREFIX_BYTES = 8
MAGIC = b"BCNEVD01"
FINAL = 0x01
TAG_BYTES = 16
_FRAME = struct.Struct(">BI")
_AAD_LABEL = b"beacon-evidence-v1"
MAX_SEGMENTS = 2**32
_START_WRITEBACK = getattr(os, "posix_fadvise", None)  # Linux: DONTNEED starts writeback
_DONT_NEED = getattr(os, "POSIX_FADV_DONTNEED", 0)


class VaultKeyError(Exception):
    """The vault key file cannot be used; the message says why and what to do."""


class EvidenceTampered(Exception):
    """A stored file does not decrypt as written: changed, cut short, reordered or replaced."""


@dataclass(frozen=True, slots=True)
class SealedKey:
    """How one file is sealed: its data key wrapped by the vault key, and its nonce prefix."""

    wrapped_key: bytes
    nonce_prefix: bytes


@dataclass(frozen=True, slots=True)
class StoredLength:
    """How much of a file the vault holds: segments written and the file's length in bytes."""

    segments: int
    stored_bytes: int


def load_vault_key(path: Path) -> bytes:
    """The 256-bit vault key in ``path``, made there (0600) first if the file does not exist."""
    if not path.exists():
        _create_key(path)
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise VaultKeyError(f"cannot read the vault key {path}: {exc.strerror}") from exc
    if len(data) != KEY_BYTES:
        raise VaultKeyError(
            f"{path} is not a vault key (it holds {len(data)} bytes, a vault key 32); give the "
            "server's vault key file, or a path where none exists yet to make one"
        )
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the vault key %s can be read by others (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    return data


def _create_key(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=".vault-key-", dir=path.parent)
    except OSError as exc:
        raise VaultKeyError(
            f"cannot create the vault key in {path.parent}: {exc.strerror}; give a writable "
            "path with --vault-key"
        ) from exc
    try:
        os.chmod(temporary, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another server made it first: use theirs
        log.warning(
            "made a new evidence vault key %s; keep it with the database's backups, without it "
            "the evidence cannot be read",
            path,
        )
    except OSError as exc:
        raise VaultKeyError(f"cannot write the vault key {path}: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


def _associated_data(evidence_id: str, index: int, flags: int) -> bytes:
    return b"%s|%s|%d|%d" % (_AAD_LABEL, evidence_id.encode("ascii"), index, flags)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


class SegmentWriter:
    """Appends sealed segments to one partial file; ``close`` makes them durable."""

    def __init__(
        self, path: Path, cipher: AESGCM, evidence_id: str, sealed: SealedKey, length: StoredLength
    ) -> None:
        self._cipher = cipher
        self._evidence_id = evidence_id
        self._prefix = sealed.nonce_prefix
        self.segments = length.segments
        self.stored_bytes = length.stored_bytes
        self.finished = False
        self._descriptor = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        try:
            # Whatever lies past the recorded length is a segment whose write was interrupted.
            os.ftruncate(self._descriptor, length.stored_bytes)
            os.lseek(self._descriptor, 0, os.SEEK_END)
        except OSError:
            os.close(self._descriptor)
            raise

    @property
    def length(self) -> StoredLength:
        return StoredLength(self.segments, self.stored_bytes)

    def write(self, plaintext: bytes, *, final: bool) -> None:
        if self.finished:
            raise ValueError("the file already has its final segment")
        if len(plaintext) > SEGMENT_SIZE or (not plaintext and not final):
            raise ValueError(f"a segment holds 1 to {SEGMENT_SIZE} bytes")
        if self.segments >= MAX_SEGMENTS:
            raise ValueError("the file has as many segments as a nonce can count")
        flags = FINAL if final else 0
        index = self.segments
        ciphertext = self._cipher.encrypt(
            _nonce(self._prefix, index),
            plaintext,
            _associated_data(self._evidence_id, index, flags),
        )
        header = _FRAME.pack(flags, len(ciphertext))
        written = os.writev(self._descriptor, [header, ciphertext])
        if written < len(header) + len(ciphertext):
            os.write(self._descriptor, (header + ciphertext)[written:])
        if _START_WRITEBACK is not None:
            # Start writing the segment to disk now, while the next one arrives: close's fsync
            # then waits for little. (Also keeps ciphertext out of the page cache.)
            _START_WRITEBACK(self._descriptor, self.stored_bytes, written, _DONT_NEED)
        self.segments += 1
        self.stored_bytes += len(header) + len(ciphertext)
        self.finished = final

    def close(self) -> None:
        try:
            os.fsync(self._descriptor)
        finally:
            os.close(self._descriptor)


class EvidenceVault:
    """The vault folder and its key."""

    def __init__(self, folder: Path, vault_key: bytes) -> None:
        if len(vault_key) != KEY_BYTES:
            raise VaultKeyError("a vault key is 32 bytes")
        self._key = vault_key
        self.folder = folder
        self._partial = folder / "partial"
        self._sealed = folder / "evidence"
        for where in (self.folder, self._partial, self._sealed):
            where.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _cipher(self, sealed: SealedKey) -> AESGCM:
        try:
            return AESGCM(aes_key_unwrap(self._key, sealed.wrapped_key))
        except InvalidUnwrap as exc:
            raise EvidenceTampered(
                "the file's data key does not unwrap with this vault key: the database row was "
                "changed, or the server runs with another vault key"
            ) from exc

    def partial_path(self, evidence_id: str) -> Path:
        return self._partial / _checked_id(evidence_id)

    def path(self, evidence_id: str) -> Path:
        return self._sealed / _checked_id(evidence_id)

    def create(self, evidence_id: str) -> tuple[SealedKey, StoredLength]:
        """A new, empty partial file with its own data key; refuses an id already used."""
        data_key = AESGCM.generate_key(bit_length=256)
        sealed = SealedKey(aes_key_wrap(self._key, data_key), os.urandom(NONCE_PREFIX_BYTES))
        if self.path(evidence_id).exists():
            raise FileExistsError(f"evidence {evidence_id} is already in the vault")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(self.partial_path(evidence_id), flags, 0o600)
        try:
            os.write(descriptor, MAGIC)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return sealed, StoredLength(0, len(MAGIC))

    def append(self, evidence_id: str, sealed: SealedKey, length: StoredLength) -> SegmentWriter:
        """A writer that continues the partial file after its recorded ``length``."""
        return SegmentWriter(
            self.partial_path(evidence_id), self._cipher(sealed), evidence_id, sealed, length
        )

    def seal(self, evidence_id: str) -> None:
        """Make a complete file read-only and move it into the vault; it is never written again."""
        partial = self.partial_path(evidence_id)
        os.chmod(partial, 0o400)
        os.link(partial, self.path(evidence_id))  # refuses to replace an existing file
        partial.unlink()

    def discard_partial(self, evidence_id: str) -> None:
        self.partial_path(evidence_id).unlink(missing_ok=True)

    def remove(self, evidence_id: str) -> None:
        """Remove a sealed file: only for the retention job or an administrator, after they
        wrote the custody event (``server.evidence_service.delete_evidence``)."""
        self.path(evidence_id).unlink(missing_ok=True)

    def read(
        self,
        evidence_id: str,
        sealed: SealedKey,
        segments: int,
        *,
        partial: bool = False,
        complete: bool | None = None,
    ) -> Iterator[bytes]:
        """The plaintext of a stored file (a sealed one, or with ``partial`` one still arriving),
        segment by segment.

        Raises EvidenceTampered, at the first segment that does not authenticate, when a file
        has more or fewer segments than recorded, or when a complete file (sealed ones, unless
        ``complete`` says otherwise) does not end with its final segment, or an incomplete one
        has one.
        """
        complete = not partial if complete is None else complete
        cipher = self._cipher(sealed)
        path = self.partial_path(evidence_id) if partial else self.path(evidence_id)
        with open(path, "rb") as file:
            if file.read(len(MAGIC)) != MAGIC:
                raise EvidenceTampered(f"evidence {evidence_id}: the file is not a vault file")
            for index in range(segments):
                header = file.read(_FRAME.size)
                if len(header) < _FRAME.size:
                    raise EvidenceTampered(
                        f"evidence {evidence_id} is cut short: segment {index} of {segments} "
                        "is missing"
                    )
                flags, size = _FRAME.unpack(header)
                ciphertext = file.read(size) if size <= SEGMENT_SIZE + TAG_BYTES else b""
                if len(ciphertext) != size or size < TAG_BYTES:
                    raise EvidenceTampered(
                        f"evidence {evidence_id} is cut short or damaged at segment {index}"
                    )
                last = index == segments - 1 and complete
                if flags != (FINAL if last else 0):
                    raise EvidenceTampered(
                        f"evidence {evidence_id}: segment {index} is marked "
                        f"{'final' if flags else 'not final'}; the file was cut or reordered"
                    )
                try:
                    yield cipher.decrypt(
                        _nonce(sealed.nonce_prefix, index),
                        ciphertext,
                        _associated_data(evidence_id, index, flags),
                    )
                except InvalidTag as exc:
                    raise EvidenceTampered(
                        f"evidence {evidence_id}: segment {index} does not authenticate; the "
                        "stored file was changed, reordered or replaced"
                    ) from exc
            if file.read(1):
                raise EvidenceTampered(
                    f"evidence {evidence_id} has bytes after its last recorded segment"
                )


def _checked_id(evidence_id: str) -> str:
    """An evidence id is ours (hex), never a name from outside: it becomes a file name."""
    if not 0 < len(evidence_id) <= 64 or not all(c in "0123456789abcdef" for c in evidence_id):
        raise ValueError(f"{evidence_id!r} is not an evidence id")
    return evidence_id
