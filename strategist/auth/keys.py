"""API keys: how they look and where they live (PostgreSQL, hashes only).

A key is `KEY_PREFIX` plus `secrets.token_urlsafe(KEY_BYTES)`: the prefix makes a
leaked key recognisable (secret scanners, logs), the 32 random bytes make it
unguessable. Only its SHA-256 is stored (`api_keys.key_hash`, the table in
`services/common/tables.py`); the key itself is shown once, by
`flask --app strategist keys create` (see `cli.py`) or returned once by `issue_key`,
and never again. What a request asks goes through the cache in `keyring.py`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from schemas.base import utc_now
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.tables import ApiKey

KEY_PREFIX = "csk_"
"""Campaign strategist key: recognisable in a log or a leak scan."""
KEY_BYTES = 32
KEY_ID_PREFIX = "key_"
Role = Literal["strategist", "admin"]
ROLES: tuple[Role, ...] = ("strategist", "admin")
KeyState = Literal["active", "revoked", "expired"]
POOL_SIZE = 2
"""Database connections per app process: lookups are rare (cached), touches rarer."""
T = TypeVar("T")
TABLE: Table = ApiKey.__table__  # type: ignore[assignment]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    """What is stored and looked up: SHA-256 of the key, hex (a random key needs no salt)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and 20 <= len(token) <= 128


@dataclass(frozen=True)
class KeyRecord:
    """A key as stored, without the key: what `keys list` shows and a request is judged by."""

    key_id: str
    campaign_id: str
    role: Role
    rate_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime | None = None) -> KeyState:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utc_now()):
            return "expired"
        return "active"

    @classmethod
    def of(cls, row: ApiKey) -> KeyRecord:
        role: Role = "admin" if row.role == "admin" else "strategist"
        return cls(
            key_id=row.key_id,
            campaign_id=row.campaign_id,
            role=role,
            rate_per_minute=row.rate_per_minute,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


class KeyStoreUnavailable(Exception):
    """PostgreSQL is not configured, unreachable, or answered with an error."""


class KeyStore:
    """The `api_keys` table. The engine is made on first use in each process (after a fork)."""

    def __init__(self, *, database_url: str | None, pool_size: int = POOL_SIZE) -> None:
        self._url = sqlalchemy_url(database_url) if database_url else None
        self._pool_size = pool_size
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        if self._url is None:
            raise KeyStoreUnavailable("no DATABASE_URL: API keys live in PostgreSQL")
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine = make_engine(self._url, pool_size=self._pool_size)
                self._pid = os.getpid()
            return self._engine

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def _run(self, what: str, fn: Callable[[Engine], T]) -> T:
        try:
            return fn(self.engine)
        except SQLAlchemyError as err:  # the URL (with its password) is never in the text
            raise KeyStoreUnavailable(f"{what}: {type(err).__name__}") from err

    def ensure_schema(self) -> None:
        """Migrate to the newest schema (idempotent; the recorder does the same at start)."""
        self._run("migrate", upgrade)

    def create(
        self,
        campaign_id: str,
        *,
        role: Role = "strategist",
        rate_per_minute: int | None = None,
        expires_in: timedelta | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key for `campaign_id`: its record, and the key itself (shown once)."""
        key = new_key()
        now = utc_now()
        row = ApiKey(
            key_id=KEY_ID_PREFIX + secrets.token_hex(6),
            key_hash=key_hash(key),
            campaign_id=campaign_id,
            role=role,
            rate_per_minute=rate_per_minute,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            revoked_at=None,
            last_used_at=None,
        )
        record = KeyRecord.of(row)

        def add(engine: Engine) -> None:
            with engine.begin() as connection:
                connection.execute(insert(TABLE).values(**_columns(row)))

        self._run("insert", add)
        return record, key

    def find(self, hashed: str) -> KeyRecord | None:
        def query(engine: Engine) -> KeyRecord | None:
            with engine.connect() as connection:
                found = connection.execute(
                    select(TABLE).where(ApiKey.key_hash == hashed)
                ).first()
            return _record(found._mapping) if found is not None else None

        return self._run("lookup", query)

    def all(self) -> list[KeyRecord]:
        def query(engine: Engine) -> list[KeyRecord]:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(TABLE).order_by(ApiKey.campaign_id, ApiKey.created_at)
                ).all()
            return [_record(row._mapping) for row in rows]

        return self._run("list", query)

    def revoke(self, key_id: str) -> KeyRecord | None:
        """Revoke (idempotent: the first revocation time stays); None for an unknown id."""

        def change(engine: Engine) -> KeyRecord | None:
            with engine.begin() as connection:
                connection.execute(
                    update(TABLE)
                    .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=utc_now())
                )
                found = connection.execute(
                    select(TABLE).where(ApiKey.key_id == key_id)
                ).first()
            return _record(found._mapping) if found is not None else None

        return self._run("revoke", change)

    def touch(self, key_id: str, at: datetime) -> None:
        def change(engine: Engine) -> None:
            with engine.begin() as connection:
                connection.execute(
                    update(TABLE).where(ApiKey.key_id == key_id).values(last_used_at=at)
                )

        self._run("touch", change)


def _columns(row: ApiKey) -> dict[str, object]:
    return {column.name: getattr(row, column.name) for column in TABLE.columns}


def _record(mapping: object) -> KeyRecord:
    values = dict(mapping)  # type: ignore[call-overload]
    values.pop("key_hash", None)
    role: Role = "admin" if values.get("role") == "admin" else "strategist"
    values["role"] = role
    return KeyRecord(**values)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: its public id, its campaign, and the key (shown only here)."""

    key_id: str
    campaign_id: str
    role: Role
    key: str

    def __repr__(self) -> str:  # never the key in a log or a test failure
        return f"IssuedKey(key_id={self.key_id!r}, campaign_id={self.campaign_id!r})"

    @property
    def header(self) -> dict[str, str]:
        """The request header that authenticates with this key."""
        return {"Authorization": f"Bearer {self.key}"}


def issue_key(
    database_url: str,
    campaign_id: str,
    *,
    role: Role = "strategist",
    rate_per_minute: int | None = None,
    expires_in: timedelta | None = None,
) -> IssuedKey:
    """Create a key in-process (tests, the demo, the benchmark): migrates first, so it works
    on a fresh database. Raises KeyStoreUnavailable."""
    store = KeyStore(database_url=database_url, pool_size=1)
    try:
        store.ensure_schema()
        record, key = store.create(
            campaign_id, role=role, rate_per_minute=rate_per_minute, expires_in=expires_in
        )
    finally:
        store.close()
    return IssuedKey(record.key_id, record.campaign_id, record.role, key)
