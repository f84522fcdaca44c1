"""Beacon's domain: entities, policy rules and the audit chain. No Qt, no I/O, no clock."""

from app.models.address import address_key
from app.models.audit_chain import (
    AuditEventType,
    AuditRecord,
    ChainVerdict,
    Outcome,
    canonical_bytes,
    chain_hash,
    verify_chain,
)
from app.models.audit_event import AuditBase, AuditEvent
from app.models.base import Base
from app.models.camera import Camera, CameraTier, InstallState
from app.models.footage_request import FootageRequest, FootageRequestStatus
from app.models.incident import Incident, IncidentStatus
from app.models.install_record import (
    InstallRecord,
    InstallRecordSyncState,
    InstallSnapshot,
    InstallVerdict,
)
from app.models.owner import Owner, OwnerKind
from app.models.policy import PolicyDecision, Purpose, PurposeKind, Reason, decide
from app.models.registry_sync_position import RegistrySyncPosition
from app.models.rejected_cad_record import RejectedCadRecord
from app.models.sharing_policy import PolicyError, PolicyMode, SharingPolicy, WeeklyWindow
from app.models.stream_url import CredentialsInUrlError, redact_url
from app.models.unit import Unit
from app.models.user import Role, User
from app.models.wall_view import SavedWall, WallView, WallViewDefinition

__all__ = [
    "AuditBase",
    "AuditEvent",
    "AuditEventType",
    "AuditRecord",
    "Base",
    "Camera",
    "CameraTier",
    "ChainVerdict",
    "CredentialsInUrlError",
    "FootageRequest",
    "FootageRequestStatus",
    "Incident",
    "IncidentStatus",
    "InstallRecord",
    "InstallRecordSyncState",
    "InstallSnapshot",
    "InstallState",
    "InstallVerdict",
    "Outcome",
    "Owner",
    "OwnerKind",
    "PolicyDecision",
    "PolicyError",
    "PolicyMode",
    "Purpose",
    "PurposeKind",
    "Reason",
    "RegistrySyncPosition",
    "RejectedCadRecord",
    "Role",
    "SavedWall",
    "SharingPolicy",
    "Unit",
    "User",
    "WallView",
    "WallViewDefinition",
    "WeeklyWindow",
    "address_key",
    "canonical_bytes",
    "chain_hash",
    "decide",
    "redact_url",
    "verify_chain",
]
