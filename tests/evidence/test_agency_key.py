"""The agency key: made once for its owner only, its fingerprint, and public keys read strictly."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from app.evidence.agency_key import (
    AGENCY_KEY_FILE,
    AgencyKey,
    AgencyKeyError,
    read_public_key,
)


def test_the_key_is_made_once_in_the_folder_given_for_its_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    folder = tmp_path / "keys"
    folder.mkdir()
    with caplog.at_level(logging.WARNING):
        made = AgencyKey.from_file(folder)
    path = folder / AGENCY_KEY_FILE
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"made a new agency key {path} (fingerprint {made.fingerprint})" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = AgencyKey.from_file(path)
    assert again.fingerprint == made.fingerprint
    assert caplog.text == ""  # loaded, not made
    assert [entry.name for entry in folder.iterdir()] == [AGENCY_KEY_FILE]


def test_the_fingerprint_is_the_sha256_of_the_raw_public_key():
    key = AgencyKey.generate()
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.fingerprint == hashlib.sha256(raw).hexdigest()
    assert len(key.fingerprint) == 64


def test_a_file_that_is_not_an_ed25519_private_key_is_refused(tmp_path: Path):
    ecdsa = tmp_path / "ecdsa.pem"
    ecdsa.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(AgencyKeyError, match="evidence packages are signed with an Ed25519 key"):
        AgencyKey.from_file(ecdsa)


def test_a_public_key_is_read_and_a_private_one_or_anything_else_refused(tmp_path: Path):
    key = AgencyKey.generate()
    public = tmp_path / "agency-public-key.pem"
    public.write_bytes(key.public_key_pem)
    assert read_public_key(public) == key.public_key

    private = tmp_path / "agency-key.pem"
    AgencyKey.from_file(private)
    with pytest.raises(AgencyKeyError, match="is a private key; give the agency's public key"):
        read_public_key(private)

    zipped = tmp_path / "package.zip"
    zipped.write_bytes(b"PK\x03\x04 junk " + key.public_key_pem)  # a PEM somewhere inside
    with pytest.raises(AgencyKeyError, match=r"is not a PEM public key \(-----BEGIN"):
        read_public_key(zipped)

    ecdsa = tmp_path / "ecdsa-public.pem"
    ecdsa.write_bytes(
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(
        AgencyKeyError, match=r"holds a ECPublicKey; the agency signs with an Ed25519 key"
    ):
        read_public_key(ecdsa)

    with pytest.raises(AgencyKeyError, match=r"cannot read the public key .*: No such file"):
        read_public_key(tmp_path / "missing.pem")
