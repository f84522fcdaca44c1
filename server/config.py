"""The server's settings: limits and defaults, validated, unknown keys rejected."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ServerSettings(BaseModel):
    """What a deployment may tune; the defaults suit one site with a few dozen workstations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_events: int = Field(default=5_000, ge=1, description="events per upload, at most")
    max_batch_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="bytes of one request body, at most"
    )
    default_token_days: int = Field(
        default=365, ge=1, le=3650, description="lifetime of a new token"
    )
    max_page_size: int = Field(default=1_000, ge=1, description="events per query page, at most")
    checkpoint_key_file: Path | None = Field(
        default=None,
        description="the Ed25519 key that signs checkpoints (PEM), made there if missing; "
        "without one the server signs with a key that lasts until it stops",
    )
    agency_key_file: Path | None = Field(
        default=None,
        description="the agency's Ed25519 key that signs case packages (PEM), made there if "
        "missing; without one the server signs with a key that lasts until it stops",
    )
    # The evidence vault (server/evidence_vault.py) and the owners' upload page.
    vault_key_file: Path | None = Field(
        default=None,
        description="the key (32 bytes) that wraps every evidence file's data key, made there if "
        "missing; never stored in the database. Without it and vault_folder the server keeps "
        "evidence in a temporary vault that is lost when it stops",
    )
    vault_folder: Path | None = Field(
        default=None, description="where the encrypted evidence files are kept"
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="the server's address as owners reach it (https://...), for upload links; "
        "without it, the address the registering workstation used",
    )
    max_evidence_file_bytes: int = Field(
        default=8 * 1024**3, ge=1024, description="bytes of one uploaded video file, at most"
    )
    max_evidence_request_bytes: int = Field(
        default=32 * 1024**3, ge=1024, description="bytes uploaded for one request, at most"
    )
    max_upload_chunk_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="bytes of one upload chunk, at most"
    )
    probe_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="seconds ffprobe may take to check that a file is video (plus one per 50 MB)",
    )
    # Retention (server/evidence_retention.py). No period by default: how long evidence must be
    # kept is set by law and differs per agency and per kind of case, so the server deletes
    # nothing on its own until the agency says how long; until then only an administrator does.
    evidence_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="days a received file is kept before the retention job deletes it, unless "
        "its incident is under legal hold; none: kept until an administrator deletes it",
    )
    evidence_retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="seconds between runs of the retention job (it also expires requests and "
        "discards their unfinished uploads)",
    )
