"""The app's per-process cache of API-key lookups, in front of the `api_keys` table.

`Keyring` is what a request asks: it caches every lookup (hits and misses) for
`ttl_s`, so a request costs no database round trip, and a revocation takes effect
in every app process within `ttl_s`. It writes a key's `last_used_at` at most once
per `last_used_interval_s` per process, off the request thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from schemas.base import utc_now
from strategist.auth.keys import KeyRecord, KeyStore, KeyStoreUnavailable, key_hash

logger = logging.getLogger(__name__)

MAX_CACHED_KEYS = 10_000
"""Past this many cached lookups (mostly unknown keys) the cache starts over."""


class KeyLookup:
    """What the auth gate needs from a keyring (unit tests use an in-memory one)."""

    def lookup(self, key: str) -> KeyRecord | None:
        raise NotImplementedError

    def lookup_hash(self, hashed: str) -> KeyRecord | None:
        """As `lookup`, by the key's hash (the console's session keeps only the hash)."""
        raise NotImplementedError

    def used(self, record: KeyRecord) -> None:
        """Note that `record`'s key served a request (cheap; may write later)."""


class Keyring(KeyLookup):
    """The store behind a short per-process cache; thread-safe."""

    def __init__(
        self,
        *,
        store: KeyStore,
        ttl_s: float,
        last_used_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._interval_s = last_used_interval_s
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._writer_pid: int | None = None

    def lookup(self, key: str) -> KeyRecord | None:
        """The key's record (any state), or None when no such key exists.

        Raises KeyStoreUnavailable when the database cannot say (and nothing is cached).
        """
        return self.lookup_hash(key_hash(key))

    def lookup_hash(self, hashed: str) -> KeyRecord | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(hashed)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        record = self._store.find(hashed)
        with self._lock:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[hashed] = (now, record)
        return record

    def used(self, record: KeyRecord) -> None:
        now = self._clock()
        with self._lock:
            last = self._touched.get(record.key_id)
            if last is not None and now - last < self._interval_s:
                return
            self._touched[record.key_id] = now
            if self._writer is None or self._writer_pid != os.getpid():
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="strategist-key-use")
                self._writer_pid = os.getpid()
            writer = self._writer
        writer.submit(self._touch, record.key_id)

    def _touch(self, key_id: str) -> None:
        try:
            self._store.touch(key_id, utc_now())
        except KeyStoreUnavailable as err:
            logger.warning("key=%s last use not recorded: %s", key_id, err)
