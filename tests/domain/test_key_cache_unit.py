"""The per-process key cache's own rules (service/domain/keys/cache.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from service.domain.access.principal import Principal, Role
from service.domain.keys.cache import KeyCache


def principal(name: str = "lms") -> Principal:
    return Principal(
        key_id=uuid.uuid4(),
        name=name,
        role=Role.INTEGRATION,
        organization_id=uuid.uuid4(),
        course_ids=frozenset(),
    )


def test_an_entry_expires_after_its_ttl() -> None:
    cache = KeyCache(0.05)
    who = principal()
    cache.put("d", who, generation=cache.generation)
    assert cache.get("d") is who
    time.sleep(0.06)
    assert cache.get("d") is None


def test_a_lookup_read_before_a_clear_is_not_put_back() -> None:
    """A request that read the key, then saw it revoked in this process (clear), must not
    re-cache what it read."""
    cache = KeyCache(1.0)
    generation = cache.generation
    cache.clear()
    cache.put("d", principal(), generation=generation)
    assert cache.get("d") is None


def test_the_cache_holds_at_most_max_entries_newest_kept() -> None:
    cache = KeyCache(1.0, max_entries=3)
    for n in range(5):
        cache.put(f"d{n}", principal(f"k{n}"), generation=cache.generation)
    assert len(cache) == 3
    assert cache.get("d0") is None
    assert cache.get("d4") is not None


def test_zero_turns_it_off_and_more_than_a_second_is_refused() -> None:
    off = KeyCache(0)
    off.put("d", principal(), generation=off.generation)
    assert off.get("d") is None
    with pytest.raises(ValueError, match="within"):
        KeyCache(1.5)
