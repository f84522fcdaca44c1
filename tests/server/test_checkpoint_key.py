"""The checkpoint signing key: made once, owner-only, reused, and refused when it is not one."""

from __future__ import annotations

import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from app.models.merkle import EMPTY_ROOT
from server import ServerSettings, create_app
from server.checkpoint_key import CheckpointKeyError, CheckpointSigner


def test_the_key_is_made_once_for_its_owner_only_and_reused(tmp_path: Path):
    path = tmp_path / "keys" / "checkpoint-key.pem"

    made = CheckpointSigner.from_file(path)

    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CheckpointSigner.from_file(path).public_key == made.public_key
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]  # no temporary left


def test_servers_starting_at_once_agree_on_one_key(tmp_path: Path):
    path = tmp_path / "checkpoint-key.pem"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: CheckpointSigner.from_file(path).public_key, range(8)))
    assert len(keys) == 1


def test_a_file_that_is_not_an_ed25519_key_is_refused(tmp_path: Path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    with pytest.raises(CheckpointKeyError, match="not an unencrypted PEM private key"):
        CheckpointSigner.from_file(garbage)

    ecdsa = tmp_path / "ecdsa.pem"
    ecdsa.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(CheckpointKeyError, match="signed with an Ed25519 key"):
        CheckpointSigner.from_file(ecdsa)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_key_others_can_read_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "checkpoint-key.pem"
    CheckpointSigner.from_file(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="server.checkpoint_key"):
        CheckpointSigner.from_file(path)
    assert "chmod 600" in caplog.text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_key_that_cannot_be_written_says_where(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(CheckpointKeyError, match="cannot create the checkpoint key"):
        CheckpointSigner.from_file(locked / "checkpoint-key.pem")


def test_the_app_signs_with_the_key_file_or_a_given_signer(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    path = tmp_path / "checkpoint-key.pem"
    from_file = create_app(db_url, settings=ServerSettings(checkpoint_key_file=path))
    assert from_file.state.context.signer.public_key == CheckpointSigner.from_file(path).public_key
    given = CheckpointSigner.generate()
    with_given = create_app(db_url, checkpoint_signer=given)
    assert with_given.state.context.signer is given

    moment = datetime(2026, 11, 21, 19, 1, 52, tzinfo=UTC)
    signed = given.sign("ws-1", 0, EMPTY_ROOT, bytes(32), moment)
    signed.verify(given.public_key)
    assert signed.checkpoint.key_id == given.key_id
    for application in (from_file, with_given):
        application.state.engine.dispose()
