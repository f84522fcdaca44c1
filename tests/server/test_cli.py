"""``python -m server``: administration from the command line, and a real uvicorn on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from app.models.checkpoint import SignedCheckpoint
from server.checkpoint_key import CheckpointSigner
from server.cli import main
from tests.server.conftest import GENESIS, Workstation

REPO = Path(__file__).resolve().parents[2]


def issued_token(output: str) -> str:
    return output.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_register_issue_and_revoke(db_url: str, capsys: pytest.CaptureFixture[str]):
    assert main(["register-workstation", "ws-1", "--db-url", db_url, "--expires-in-days", "3"]) == 0
    out = capsys.readouterr().out
    assert "role workstation" in out and issued_token(out).startswith("bst_")

    assert main(["register-workstation", "ws-1", "--db-url", db_url]) == 2
    assert "already registered" in capsys.readouterr().err

    supervisor = ["issue-token", "--role", "supervisor", "--name", "J. Doe"]
    assert main([*supervisor, "--db-url", db_url]) == 0
    assert "token id 2, role supervisor" in capsys.readouterr().out
    assert main(["issue-token", "--role", "workstation", "--db-url", db_url]) == 2
    assert "needs a workstation" in capsys.readouterr().err

    assert main(["revoke-token", "2", "--db-url", db_url]) == 0
    assert "token 2 (supervisor) revoked" in capsys.readouterr().out
    assert main(["revoke-token", "99", "--db-url", db_url]) == 2


def test_python_m_server_serves_on_loopback(
    db_url: str, workstation: Workstation, capsys: pytest.CaptureFixture[str]
):
    assert main(["register-workstation", "ws-1", "--db-url", db_url]) == 0
    token = issued_token(capsys.readouterr().out)
    workstation.record_feeds(3)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--db-url", db_url, "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                schema = httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.1)
        assert "/v1/workstations/{workstation_id}/events" in schema.json()["paths"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            assert client.get("/v1/workstations/ws-1/head").json()["hash"] == GENESIS
            acknowledged = client.post(
                "/v1/workstations/ws-1/events", json={"events": workstation.events()}
            )
            assert acknowledged.status_code == 200
            assert acknowledged.json()["seq"] == 3
            key = bytes.fromhex(client.get("/v1/checkpoint-key").json()["public_key"])
            SignedCheckpoint.from_wire(acknowledged.json()["checkpoint"]).verify(key)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_show_key_prints_the_key_the_server_signs_with(
    checkpoint_key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert not checkpoint_key_file.exists()
    assert main(["show-key"]) == 0  # made on first use, at BEACON_SERVER_CHECKPOINT_KEY
    out = capsys.readouterr().out
    signer = CheckpointSigner.from_file(checkpoint_key_file)
    assert f"key id {signer.key_id}" in out
    assert f"public key {signer.public_key.hex()}" in out
    assert signer.public_key_pem in out
    assert main(["show-key"]) == 0
    assert capsys.readouterr().out == out  # the same key every time

    elsewhere = tmp_path / "other" / "key.pem"
    assert main(["show-key", "--checkpoint-key", str(elsewhere)]) == 0
    assert CheckpointSigner.from_file(elsewhere).key_id in capsys.readouterr().out

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    assert main(["show-key", "--checkpoint-key", str(garbage)]) == 2
    assert "is not an unencrypted PEM private key" in capsys.readouterr().err
