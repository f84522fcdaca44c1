"""The server's checkpoint signing key: Ed25519, kept in a PEM file the server creates once.

The file holds the private key unencrypted (PKCS #8 PEM), readable by its owner only (0600 on
POSIX); it is created atomically (written beside, then hard-linked into place), so two servers
starting at once on one key path end up with the same key. Losing the file means clients that
pinned the old public key refuse the new checkpoints until they are given the new key; keep it
with the database's backups.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.models.checkpoint import KEY_ALGORITHM, Checkpoint, SignedCheckpoint, key_id_for

log = logging.getLogger(__name__)


class CheckpointKeyError(Exception):
    """The key file cannot be used; the message says why and what to do."""


class CheckpointSigner:
    """Signs checkpoints with one Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_for(self.public_key)

    @classmethod
    def generate(cls) -> CheckpointSigner:
        """A signer with a new key that lives only in memory (tests, or a throw-away server)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_file(cls, path: Path) -> CheckpointSigner:
        """The key in ``path``, made there first if the file does not exist."""
        if not path.exists():
            _create(path)
        return cls(_load(path))

    @property
    def algorithm(self) -> str:
        return KEY_ALGORITHM

    @property
    def public_key_pem(self) -> str:
        return (
            self._private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def sign(
        self, workstation_id: str, size: int, root: bytes, head_hash: bytes, time: datetime
    ) -> SignedCheckpoint:
        checkpoint = Checkpoint(workstation_id, size, root, head_hash, time, self.key_id)
        return SignedCheckpoint(checkpoint, self._private_key.sign(checkpoint.signed_bytes()))


def _create(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=".checkpoint-key-", dir=path.parent)
    except OSError as exc:
        raise CheckpointKeyError(
            f"cannot create the checkpoint key in {path.parent}: {exc.strerror}; give a "
            "writable path with --checkpoint-key"
        ) from exc
    try:
        # mkstemp makes the file 0600 already; say so for the platforms where it matters.
        os.chmod(temporary, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another server made it first: use theirs
        log.warning(
            "made a new checkpoint signing key %s (key id %s); give its public key to the "
            "workstations (python -m server show-key)",
            path,
            key_id_for(key.public_key().public_bytes_raw()),
        )
    except OSError as exc:
        raise CheckpointKeyError(f"cannot write the checkpoint key {path}: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise CheckpointKeyError(f"cannot read the checkpoint key {path}: {exc.strerror}") from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the checkpoint key %s can be read by others (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(
            f"{path} is not an unencrypted PEM private key ({exc}); give the server's "
            "checkpoint key file, or a path where none exists yet to make one"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(
            f"{path} holds a {type(key).__name__.removeprefix('_')}; checkpoints are signed "
            f"with an {KEY_ALGORITHM} key"
        )
    return key
