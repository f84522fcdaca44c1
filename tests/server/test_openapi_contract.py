"""The sync server against its own OpenAPI schema: schemathesis generates requests for every
operation (valid ones and, from the schema's constraints, invalid ones) and checks that the real
app never answers 5xx, answers only with status codes the schema documents, and that every
documented answer matches its schema.

Each case carries a valid token of the role its operation needs (a fresh one per case, so a
generated ``POST /v1/tokens/{id}/revoke`` of a low id cannot take the run's authentication
away), so generation reaches past the token check into validation and the database. The
workstation the examples name (``rtcc-ws-03``) is registered and has events, so the proof and
checkpoint endpoints answer with real trees, not only 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy.engine import make_url

from server import ServerSettings, create_app
from server.models import TokenRole
from server.tokens import issue_token, register_workstation
from tests.conftest import ManualClock
from tests.postgres import PostgresCluster
from tests.server.conftest import Workstation

WORKSTATION = "rtcc-ws-03"  # the schema's example workstation id
SEEDED_EVENTS = 7
MAX_EXAMPLES = 20  # per operation and database: about 20 s of CPU for the whole module

# Which role each operation is for; an operation missing here fails the test, so a new
# endpoint is contract-tested with the right token rather than only with refusals.
ROLE_OF_OPERATION = {
    ("POST", "/v1/workstations/{workstation_id}/events"): TokenRole.WORKSTATION,
    ("GET", "/v1/checkpoint-key"): None,
    ("GET", "/v1/workstations/{workstation_id}/checkpoint"): TokenRole.WORKSTATION,
    ("GET", "/v1/workstations/{workstation_id}/consistency"): TokenRole.WORKSTATION,
    ("GET", "/v1/workstations/{workstation_id}/inclusion"): TokenRole.WORKSTATION,
    ("GET", "/v1/workstations/{workstation_id}/head"): TokenRole.SUPERVISOR,
    ("GET", "/v1/events"): TokenRole.SUPERVISOR,
    ("GET", "/v1/owners/{owner_id}/events"): TokenRole.SUPERVISOR,
    ("GET", "/v1/workstations"): TokenRole.SUPERVISOR,
    ("POST", "/v1/workstations"): TokenRole.ADMIN,
    ("POST", "/v1/workstations/{workstation_id}/tokens"): TokenRole.ADMIN,
    ("POST", "/v1/tokens"): TokenRole.ADMIN,
    ("POST", "/v1/owners/{owner_id}/tokens"): TokenRole.ADMIN,
    ("POST", "/v1/tokens/{token_id}/revoke"): TokenRole.ADMIN,
    ("PUT", "/v1/registry/owners/{owner_id}"): TokenRole.ADMIN,
    ("PUT", "/v1/registry/cameras/{camera_id}"): TokenRole.ADMIN,
    ("PUT", "/v1/registry/cameras/{camera_id}/policy"): TokenRole.ADMIN,
    ("POST", "/v1/registry/import"): TokenRole.ADMIN,
    ("GET", "/v1/registry/changes"): TokenRole.WORKSTATION,
    ("POST", "/v1/footage-requests"): TokenRole.WORKSTATION,
    ("GET", "/v1/incidents/{cad_number}/evidence"): TokenRole.WORKSTATION,
    ("GET", "/v1/evidence/{evidence_id}/content"): TokenRole.WORKSTATION,
    ("GET", "/v1/evidence/{evidence_id}/custody"): TokenRole.SUPERVISOR,
    ("DELETE", "/v1/evidence/{evidence_id}"): TokenRole.ADMIN,
    ("GET", "/v1/agency-key"): None,
    ("POST", "/v1/incidents/{cad_number}/case-package"): TokenRole.SUPERVISOR,
    ("PUT", "/v1/incidents/{cad_number}/hold"): TokenRole.ADMIN,
    ("DELETE", "/v1/incidents/{cad_number}/hold"): TokenRole.ADMIN,
    ("PUT", "/v1/install-records/{record_id}"): TokenRole.WORKSTATION,
    ("GET", "/v1/cameras/{camera_id}/install-records"): TokenRole.SUPERVISOR,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed(app: FastAPI, folder: Path) -> None:
    """Register the example workstation and upload a real audit log's events to it."""
    sessions = app.state.context.sessions
    now = datetime.now(UTC)
    with sessions.begin() as session:
        register_workstation(session, WORKSTATION, now)
        token = issue_token(
            session, TokenRole.WORKSTATION, now, timedelta(days=1), workstation_id=WORKSTATION
        ).secret
    workstation = Workstation(folder, WORKSTATION, ManualClock(datetime(2026, 11, 18, tzinfo=UTC)))
    try:
        workstation.record_login()
        workstation.record_feeds(SEEDED_EVENTS - 1)
        answer = TestClient(app).post(
            f"/v1/workstations/{WORKSTATION}/events",
            json={"events": workstation.events()},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        workstation.close()
    assert answer.status_code == 200, answer.text
    assert answer.json()["seq"] == SEEDED_EVENTS


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def contract_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("contract")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'server.sqlite3'}"
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database()
    settings_ = ServerSettings(checkpoint_key_file=folder / "checkpoint-key.pem")
    app = create_app(url, settings=settings_)
    try:
        _seed(app, folder)
        yield app
    finally:
        app.state.engine.dispose()
        if request.param == "postgresql":
            cluster.drop_database(str(make_url(url).database))


@pytest.fixture(scope="module")
def api_schema(contract_app: FastAPI) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", contract_app)


def _bearer(app: FastAPI, role: TokenRole | None) -> dict[str, str]:
    if role is None:
        return {}
    with app.state.context.sessions.begin() as session:
        issued = issue_token(
            session,
            role,
            datetime.now(UTC),
            timedelta(days=1),
            workstation_id=WORKSTATION if role is TokenRole.WORKSTATION else None,
        )
    return {"Authorization": f"Bearer {issued.secret}"}


def test_every_operation_is_contract_tested(api_schema: OpenApiSchema) -> None:
    operations = {
        (method.upper(), path)
        for path, methods in api_schema.raw_schema["paths"].items()
        for method in methods
    }
    assert operations == set(ROLE_OF_OPERATION)


@pytest.mark.parametrize(("method", "path"), list(ROLE_OF_OPERATION))
def test_the_server_keeps_its_openapi_contract(
    method: str, path: str, contract_app: FastAPI, api_schema: OpenApiSchema
) -> None:
    operation = api_schema[path][method]
    cases = strategies.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def keeps_the_contract(case: schemathesis.Case[Any]) -> None:
        headers = _bearer(contract_app, ROLE_OF_OPERATION[(method, path)])
        case.call_and_validate(headers=headers, checks=CHECKS)

    keeps_the_contract()


# What schemathesis found, pinned so that it stays fixed whatever the generator draws next.
@pytest.mark.parametrize(
    ("method", "url", "body", "role"),
    [
        ("GET", "/v1/events?actor=%00", None, TokenRole.SUPERVISOR),
        ("GET", "/v1/owners/own%00/events", None, TokenRole.SUPERVISOR),
        ("POST", "/v1/tokens", {"role": "admin", "name": "\x00"}, TokenRole.ADMIN),
        ("POST", "/v1/workstations", {"id": "ws-9", "description": "a\x00"}, TokenRole.ADMIN),
    ],
)
def test_text_with_a_nul_is_refused_before_it_reaches_the_database(
    contract_app: FastAPI, method: str, url: str, body: Any, role: TokenRole
) -> None:
    # PostgreSQL cannot store or compare text with NUL: this was a 500 there.
    with TestClient(contract_app) as client:
        answer = client.request(method, url, json=body, headers=_bearer(contract_app, role))
    assert answer.status_code == 422, answer.text
    assert "pattern" in answer.text


def test_a_body_that_is_not_json_gets_the_documented_400(
    contract_app: FastAPI, api_schema: OpenApiSchema
) -> None:
    with TestClient(contract_app) as client:
        answer = client.post(
            "/v1/tokens",
            content=b"\xff not json",
            headers={**_bearer(contract_app, TokenRole.ADMIN), "Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert "400" in api_schema.raw_schema["paths"]["/v1/tokens"]["post"]["responses"]
