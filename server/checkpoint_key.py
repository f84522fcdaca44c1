"""The server's checkpoint signing key: Ed25519, kept in a PEM file the server creates once.

The file is handled by ``app.signing_key`` (unencrypted PKCS #8 PEM, readable by its owner only,
created atomically, so two servers starting at once on one key path end up with the same key).
Losing the file means clients that pinned the old public key refuse the new checkpoints until
they are given the new key; keep it with the database's backups.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.models.checkpoint import KEY_ALGORITHM, Checkpoint, SignedCheckpoint, key_id_for
from app.signing_key import KeyFileRole, SigningKeyError, load_or_create

log = logging.getLogger(__name__)

CHECKPOINT_KEY = KeyFileRole(
    name="checkpoint key",
    signs="checkpoints",
    writable_hint="give a writable path with --checkpoint-key",
)


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
        try:
            key_file = load_or_create(path, CHECKPOINT_KEY)
        except SigningKeyError as exc:
            raise CheckpointKeyError(str(exc)) from exc
        signer = cls(key_file.private_key)
        if key_file.created:
            log.warning(
                "made a new checkpoint signing key %s (key id %s); give its public key to the "
                "workstations (python -m server show-key)",
                path,
                signer.key_id,
            )
        return signer

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
