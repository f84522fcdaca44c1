"""Stream decoding in worker processes; feeds open from a FeedLease, never a bare URL. No Qt."""

from app.video.feed_state import ClipWritten, FeedState, FeedStatus
from app.video.feed_supervisor import ClipExportError, FeedHandle, FeedSupervisor
from app.video.frame_exchange import Frame

__all__ = [
    "ClipExportError",
    "ClipWritten",
    "FeedHandle",
    "FeedState",
    "FeedStatus",
    "FeedSupervisor",
    "Frame",
]
