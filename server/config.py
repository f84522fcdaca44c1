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
