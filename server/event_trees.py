"""Each workstation's events as the leaves of an RFC 9162 Merkle tree, cached in memory.

Leaf ``seq - 1`` is the event's chain hash (``app.models.checkpoint.event_leaf_hash``), so the
tree needs nothing stored beyond the hashes the server keeps already: it is built from the
database on first use (after a start, lazily per workstation) and then kept up to date.

The database stays the truth. A tree is only ever read after being brought to a head read from
the database (``HeldTree.tree_for``): if another server process stored events meanwhile, the
missing leaves are read and appended; if the tree does not match the database at all (which
would take a database restored under a running server), it is rebuilt. The upload path appends
a batch's leaves only after its transaction committed (``HeldTree.extend``), so a rejected or
failed batch never reaches the tree.

Memory: under 64 bytes per event (``MerkleTree``), e.g. 6.4 MB for 100,000 events; every
workstation's tree stays in memory once used.

Thread safety: one lock per workstation (``EventTrees.hold``), held across an upload's
transaction and the reading of its proofs, and by every reader of the tree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models.checkpoint import event_leaf_hash
from app.models.merkle import MerkleTree
from server.event_intake import Head
from server.models import ReceivedAuditEvent

log = logging.getLogger(__name__)


class StoredEventsDamaged(Exception):
    """The stored events of a workstation do not add up to its acknowledged head."""


class _Slot:
    __slots__ = ("lock", "tree")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tree = MerkleTree()


class EventTrees:
    """The trees of all workstations served by this process."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, workstation_id: str) -> Iterator[HeldTree]:
        """Hold the workstation's tree (its lock) for the block."""
        with self._guard:
            slot = self._slots.setdefault(workstation_id, _Slot())
        with slot.lock:
            yield HeldTree(slot, workstation_id, self._sessions)


class HeldTree:
    """A workstation's tree while its lock is held."""

    def __init__(self, slot: _Slot, workstation_id: str, sessions: sessionmaker[Session]) -> None:
        self._slot = slot
        self._workstation_id = workstation_id
        self._sessions = sessions

    def extend(self, previous: Head, chain_hashes: Sequence[bytes]) -> None:
        """Append a committed batch's events if the tree is at the head it was checked against.

        Otherwise leave the tree as it is: ``tree_for`` reads what it lacks from the database.
        """
        if chain_hashes and _reaches(self._slot.tree, previous, exactly=True):
            tree = self._slot.tree
            for chain_hash in chain_hashes:
                tree.append_leaf_hash(event_leaf_hash(chain_hash))

    def tree_for(self, head: Head, session: Session | None = None) -> MerkleTree:
        """The tree with at least ``head.seq`` leaves, leaf ``head.seq - 1`` being ``head``.

        ``head`` is a head read from the database; ``session`` reads missing leaves (a new one
        is opened when needed and none is given). Answer for size ``head.seq`` with the tree's
        methods that take a size: the tree may already be larger.
        """
        if _reaches(self._slot.tree, head, exactly=False):
            return self._slot.tree
        if session is not None:
            self._load(session, head)
        else:
            with self._sessions() as opened:
                self._load(opened, head)
        return self._slot.tree

    def _load(self, session: Session, head: Head) -> None:
        tree = self._slot.tree
        if tree.size > head.seq:  # and its leaf head.seq - 1 is not the head
            tree = self._rebuilt("the tree differs from the database's head")
        elif tree.size > 0:
            stored = self._stored_hash(session, tree.size)
            if stored is None or event_leaf_hash(stored) != tree.leaf_hash_at(tree.size - 1):
                tree = self._rebuilt("the tree's last event differs from the database's")
        expected = tree.size + 1
        last: bytes | None = None
        rows = session.execute(
            select(ReceivedAuditEvent.seq, ReceivedAuditEvent.hash)
            .where(ReceivedAuditEvent.workstation_id == self._workstation_id)
            .where(ReceivedAuditEvent.seq >= expected, ReceivedAuditEvent.seq <= head.seq)
            .order_by(ReceivedAuditEvent.seq)
        )
        for seq, digest in rows:
            if seq != expected:
                break
            last = bytes(digest)
            tree.append_leaf_hash(event_leaf_hash(last))
            expected += 1
        if not _reaches(tree, head, exactly=True):
            raise StoredEventsDamaged(
                f"the stored events of workstation {self._workstation_id} end at event "
                f"{tree.size} (hash {last.hex() if last else '-'}), but its acknowledged head "
                f"is event {head.seq} (hash {head.hash.hex()}); restore the database from a "
                "backup"
            )

    def _stored_hash(self, session: Session, seq: int) -> bytes | None:
        digest = session.scalar(
            select(ReceivedAuditEvent.hash).where(
                ReceivedAuditEvent.workstation_id == self._workstation_id,
                ReceivedAuditEvent.seq == seq,
            )
        )
        return None if digest is None else bytes(digest)

    def _rebuilt(self, reason: str) -> MerkleTree:
        log.warning(
            "rebuilding the Merkle tree of workstation %s from the database: %s",
            self._workstation_id,
            reason,
        )
        self._slot.tree = MerkleTree()
        return self._slot.tree


def _reaches(tree: MerkleTree, head: Head, *, exactly: bool) -> bool:
    """Whether ``tree`` holds ``head`` as leaf ``head.seq - 1`` (and ends there if ``exactly``)."""
    if tree.size < head.seq or (exactly and tree.size != head.seq):
        return False
    return head.seq == 0 or tree.leaf_hash_at(head.seq - 1) == event_leaf_hash(head.hash)
