"""``python -m server``: administration from the command line, and a real uvicorn on loopback."""

from __future__ import annotations

import json
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
from server.database import create_server_engine, session_factory
from server.registry import changes_after
from tests.server.conftest import GENESIS, Workstation
from tests.server.test_registry_api import REGISTRY_FILE

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


def test_registry_import_loads_a_registry_file_into_the_server(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    registry_file = tmp_path / "registry.json"
    registry_file.write_text(json.dumps(REGISTRY_FILE), encoding="utf-8")
    command = ["registry", "import", str(registry_file), "--db-url", db_url]

    assert main(command) == 0
    assert "owners 2 new, 0 updated; cameras 2 new, 0 updated; 1 policy versions added; " in (
        capsys.readouterr().out
    )
    assert main(command) == 0
    assert "5 records unchanged; registry version 5" in capsys.readouterr().out
    engine = create_server_engine(db_url)
    try:
        with session_factory(engine)() as session:
            page = changes_after(session, 0, 10)
            assert [(row.kind, row.record_id) for row in page.changes] == [
                ("owner", "own-017"),
                ("owner", "own-031"),
                ("camera", "cam-0042"),
                ("camera", "cam-0043"),
                ("policy", "cam-0042"),
            ]
    finally:
        engine.dispose()

    assert main(["issue-token", "--role", "owner", "--owner", "own-031", "--db-url", db_url]) == 0
    assert "role owner" in capsys.readouterr().out
    assert main(["issue-token", "--role", "owner", "--db-url", db_url]) == 2
    assert "an owner token needs an owner" in capsys.readouterr().err

    invalid = tmp_path / "invalid.json"
    broken_camera = {**REGISTRY_FILE["cameras"][0], "id": "cam-0099", "latitude": 95.2}
    invalid.write_text(json.dumps({"cameras": [broken_camera]}), encoding="utf-8")
    assert main(["registry", "import", str(invalid), "--db-url", db_url]) == 1
    err = capsys.readouterr().err
    assert f"{invalid}: cameras row 1, field latitude: 95.2 is outside -90..90" in err
    assert "nothing was imported" in err

    missing = tmp_path / "missing.json"
    assert main(["registry", "import", str(missing), "--db-url", db_url]) == 2
    assert "cannot be read as a JSON registry file" in capsys.readouterr().err
