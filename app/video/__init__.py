"""Stream decoding: capture workers that take a FeedLease, never a bare URL. No Qt here."""

from app.video.capture import CaptureState, CaptureWorker, Frame

__all__ = ["CaptureState", "CaptureWorker", "Frame"]
