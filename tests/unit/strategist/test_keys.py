"""Keys as stored (hashes only), the per-process cache, keyed analysis ids, and the
settings that refuse real provider keys next to the emulator."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from providers.settings import ProviderSettings
from schemas.base import utc_now
from strategist.analysis.ids import created_ms, created_with_key, new_analysis_id
from strategist.auth.keyring import Keyring
from strategist.auth.keys import KEY_PREFIX, IssuedKey, KeyRecord, key_hash, new_key
from strategist.auth.ratelimit import capacity
from strategist.settings import StrategistSettings


class CountingStore:
    """The key table as the keyring sees it, counting lookups and last-use writes."""

    def __init__(self) -> None:
        self.rows: dict[str, KeyRecord] = {}
        self.finds = 0
        self.touches: list[str] = []

    def find(self, hashed: str) -> KeyRecord | None:
        self.finds += 1
        return self.rows.get(hashed)

    def touch(self, key_id: str, _at: object) -> None:
        self.touches.append(key_id)


def _record(key_id: str = "key_1") -> KeyRecord:
    return KeyRecord(key_id, "az", "strategist", None, utc_now(), None, None, None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_random_prefixed_and_stored_only_as_sha256() -> None:
    key = new_key()
    assert key.startswith(KEY_PREFIX) and len(key) >= len(KEY_PREFIX) + 43  # 32 bytes
    assert new_key() != key
    assert len(key_hash(key)) == 64 and key not in key_hash(key)


def test_an_issued_key_never_shows_in_its_repr() -> None:
    issued = IssuedKey("key_1", "az", "strategist", new_key())
    assert issued.key not in repr(issued)
    assert issued.header == {"Authorization": f"Bearer {issued.key}"}


def test_the_keyring_asks_the_database_once_per_ttl_and_then_sees_a_revocation() -> None:
    store, clock = CountingStore(), Clock()
    keyring = Keyring(store=store, ttl_s=3.0, last_used_interval_s=60, clock=clock)  # type: ignore[arg-type]
    key = new_key()
    store.rows[key_hash(key)] = _record()
    for _ in range(50):
        assert keyring.lookup(key) is not None
    assert store.finds == 1
    store.rows[key_hash(key)] = KeyRecord(
        "key_1", "az", "strategist", None, utc_now(), None, utc_now(), None
    )
    assert keyring.lookup(key).state() == "active"  # type: ignore[union-attr]  # cached
    clock.now += 3.0
    assert keyring.lookup(key).state() == "revoked"  # type: ignore[union-attr]
    assert store.finds == 2


def test_unknown_keys_are_cached_too() -> None:
    store, clock = CountingStore(), Clock()
    keyring = Keyring(store=store, ttl_s=3.0, last_used_interval_s=60, clock=clock)  # type: ignore[arg-type]
    for _ in range(5):
        assert keyring.lookup("csk_nobody") is None
    assert store.finds == 1


def test_last_use_is_written_at_most_once_per_interval() -> None:
    store, clock = CountingStore(), Clock()
    keyring = Keyring(store=store, ttl_s=3.0, last_used_interval_s=60, clock=clock)  # type: ignore[arg-type]
    for _ in range(10):
        keyring.used(_record())
    clock.now += 61
    keyring.used(_record())
    assert keyring._writer is not None
    keyring._writer.shutdown(wait=True)
    assert store.touches == ["key_1", "key_1"]


def test_analysis_ids_say_whether_a_key_made_them() -> None:
    keyed = [new_analysis_id(keyed=True) for _ in range(200)]
    plain = [new_analysis_id() for _ in range(2000)]
    assert all(created_with_key(i) and created_ms(i) is not None for i in keyed)
    assert not any(created_with_key(i) for i in plain)
    assert not created_with_key("not-a-time-ordered-id")


def test_bucket_capacity_is_the_burst_never_below_one_request() -> None:
    assert capacity(600, 10.0) == 100.0
    assert capacity(1, 10.0) == 1.0


def test_real_provider_keys_next_to_the_emulator_refuse_to_start_without_showing_them() -> None:
    canary = "leak-canary-gemini-5b1f0c"
    with pytest.raises(ValidationError) as caught:
        StrategistSettings(
            providers=ProviderSettings(
                gemini_api_key=SecretStr(canary), emulator_url="http://127.0.0.1:8090"
            )
        )
    assert "GEMINI_API_KEY" in str(caught.value) and "EMULATOR_URL" in str(caught.value)
    assert canary not in str(caught.value) and canary not in repr(caught.value)


def test_real_keys_alone_or_the_emulator_alone_are_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMULATOR_URL", raising=False)
    StrategistSettings(providers=ProviderSettings(gemini_api_key=SecretStr("real-key-here")))
    StrategistSettings(providers=ProviderSettings(emulator_url="http://127.0.0.1:8090"))
