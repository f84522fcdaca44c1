"""Run as a separate process by the crash test: append events, print each acknowledged seq."""

import sys
from pathlib import Path

from app.models import AuditEventType
from app.services.audit_log import AuditLog


def main() -> None:
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    log = AuditLog.open(path, "crash-ws")
    for number in range(count):
        receipt = log.record(AuditEventType.FEED_ALLOWED, actor="ops", subject=f"event {number}")
        sys.stdout.write(f"{receipt.seq}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
