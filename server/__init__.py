"""Beacon's audit sync server: FastAPI on PostgreSQL (or SQLite), deployable on its own."""

from server.app import create_app
from server.config import ServerSettings

__all__ = ["ServerSettings", "create_app"]
