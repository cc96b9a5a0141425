"""Authenticated keys remembered for a fraction of a second, so a burst does not look the
same key up once per request.

A key is found by the SHA-256 of what the client presents, and the caller it stands for
(organisation, role, an instructor's courses) is kept for ``ttl`` seconds
(``GRADER_KEY_CACHE_SECONDS``, at most one second). What this trades away is bounded:

* in this process, any change to a key or to a course grant made through the ORM clears
  the cache when its transaction commits (``watch``), so a revocation here takes effect
  for the very next request;
* in another process (a second API process, the command line), the change is seen once the
  entry is ``ttl`` old: a revoked key stops working everywhere within ``ttl`` (at most one
  second). ``tests/reliability/test_key_cache.py`` checks this across two processes.

Failures are never cached (an unknown key is looked up every time, behind the per-address
limit on failed credentials), and the cache holds at most ``max_entries`` keys.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import ApiKey, CourseGrant, Organization
from service.domain.access.principal import Principal

# Where a session finds its app's cache (``sessionmaker(info=...)`` copies it into each).
SESSION_INFO_KEY = "grader.key_cache"
_CHANGED = "grader.keys_changed"
# Rows whose change alters who a key stands for, or whether it works at all.
_WATCHED = (ApiKey, CourseGrant, Organization)
MAX_TTL_SECONDS = 1.0


class KeyCache:
    """Principals by key digest, each valid for ``ttl`` seconds; thread-safe."""

    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        if not 0 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"key cache ttl must be within 0..{MAX_TTL_SECONDS} s")
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()
        # Bumped by every clear: a lookup that read the database before a clear must not
        # put back what it read (it may be the key just revoked).
        self.generation = 0

    def get(self, digest: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[digest]
                return None
            return entry[1]

    def put(self, digest: str, principal: Principal, *, generation: int) -> None:
        """Remember ``principal``, read from the database since ``generation`` was current."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            self._entries[digest] = (time.monotonic() + self.ttl, principal)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)


def attach(factory: sessionmaker[Session], cache: KeyCache) -> None:
    """Sessions of ``factory`` clear ``cache`` when they commit a change to a watched row."""
    info = dict(factory.kw.get("info") or {})
    info[SESSION_INFO_KEY] = cache
    factory.configure(info=info)


def _touches_keys(session: Session) -> bool:
    return any(
        isinstance(row, _WATCHED)
        for rows in (session.new, session.dirty, session.deleted)
        for row in rows
    )


@event.listens_for(Session, "before_flush")
def _note_changed_rows(session: Session, _context: Any, _instances: Any) -> None:
    if SESSION_INFO_KEY in session.info and _touches_keys(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_statements(state: Any) -> None:
    # An UPDATE or DELETE statement (not a flush) on a watched table, e.g. a bulk revoke.
    if not (state.is_update or state.is_delete) or SESSION_INFO_KEY not in state.session.info:
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, _WATCHED):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _clear_on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        cache = session.info.get(SESSION_INFO_KEY)
        if isinstance(cache, KeyCache):
            cache.clear()
