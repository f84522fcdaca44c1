"""The agency's evidence key: the Ed25519 key case packages are signed with.

The private key is a PEM file made once (``app.signing_key``: 0600, created atomically) wherever
the caller says: the server passes its key folder, a test a temporary one. Whoever receives a
package checks it against the agency's public key, known by its fingerprint: the SHA-256 of the
raw 32-byte public key, in lowercase hex (64 digits), short enough to read over the phone in its
first and last groups and whole in the package's manifest. Qt-free and free of Beacon's stores,
so the server and the console both use it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.signing_key import KeyFileRole, SigningKeyError, load_or_create

log = logging.getLogger(__name__)

AGENCY_KEY_FILE = "agency-key.pem"
MAX_PUBLIC_KEY_FILE = 64 * 1024
AGENCY_KEY = KeyFileRole(
    name="agency key",
    signs="evidence packages",
    writable_hint="give the agency key a folder this account can write to",
)


class AgencyKeyError(Exception):
    """A key cannot be used as the agency's key; the message says why and what to do."""


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, 64 lowercase hex digits."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()


def short_fingerprint(value: str) -> str:
    """The first and last groups of a fingerprint, for a summary line: ``3f2a91…7c0d``."""
    return f"{value[:6]}…{value[-4:]}"


@dataclass(frozen=True, slots=True)
class AgencyKey:
    """The agency's private key and what is derived from it."""

    private_key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, path: Path) -> AgencyKey:
        """The key in ``path`` (the folder's ``AGENCY_KEY_FILE`` if ``path`` is a folder),
        made there first if the file does not exist."""
        if path.is_dir():
            path = path / AGENCY_KEY_FILE
        try:
            key_file = load_or_create(path, AGENCY_KEY)
        except SigningKeyError as exc:
            raise AgencyKeyError(str(exc)) from exc
        key = cls(key_file.private_key)
        if key_file.created:
            log.warning(
                "made a new agency key %s (fingerprint %s); give its public key to whoever "
                "receives case packages, and keep the file with the vault's backups",
                path,
                key.fingerprint,
            )
        return key

    @classmethod
    def generate(cls) -> AgencyKey:
        """A key that lives only in memory (tests, or a throw-away export)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def public_key_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def parse_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM ``data`` (nothing before it but blank space); ``source``
    names where it came from in errors."""
    if b"PRIVATE KEY-----" in data[:MAX_PUBLIC_KEY_FILE]:
        raise AgencyKeyError(
            f"{source} is a private key; give the agency's public key instead, and keep the "
            "private key where it is"
        )
    if not data.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----"):
        raise AgencyKeyError(f"{source} is not a PEM public key (-----BEGIN PUBLIC KEY-----)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AgencyKeyError(f"{source} is not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AgencyKeyError(
            f"{source} holds a {type(key).__name__.removeprefix('_')}; the agency signs "
            "with an Ed25519 key"
        )
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """The agency public key in the PEM file ``path``."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PUBLIC_KEY_FILE)
    except OSError as exc:
        raise AgencyKeyError(f"cannot read the public key {path}: {exc.strerror}") from exc
    return parse_public_key(data, str(path))
