"""Relay tokens kept by the app's own secret storage (the Keychain / Android Keystore seam):
a foreign SecretStore written in Python receives them, the SQLite file never holds one, and
signing out empties the store and makes the relay refuse the old tokens."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request

import pytest


def _file_bytes(db_path) -> bytes:
    """The database file and its WAL, as bytes (what someone copying the files would get)."""
    data = b""
    for suffix in ("", "-wal"):
        path = db_path.parent / (db_path.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def test_a_foreign_secret_store_keeps_the_tokens_out_of_the_database(tacho, tmp_path, relay):
    class Vault(tacho.SecretStore):
        def __init__(self):
            self.items: dict[str, str] = {}
            self.lock = threading.Lock()

        def load(self, key):
            with self.lock:
                return self.items.get(key)

        def save(self, key, value):
            with self.lock:
                self.items[key] = value

        def delete(self, key):
            with self.lock:
                self.items.pop(key, None)

    vault = Vault()
    db = tmp_path / "phone.db"
    core = tacho.Core(str(db), "UTC", tacho.RuntimeKind.MULTI_THREAD, "Pixel", vault)

    async def sign_in_and_sync():
        status = await core.signup(relay, "keys@example.org", "correct horse battery staple")
        assert status.signed_in
        await core.add_project("Acme", None, True, tacho.Rounding.NONE())
        report = await core.sync_once()
        assert report.pushed >= 1
        return status

    asyncio.run(sign_in_and_sync())
    device = core.device_id()
    assert set(vault.items) == {
        f"tacho.{device}.access_token",
        f"tacho.{device}.refresh_token",
    }
    access = vault.items[f"tacho.{device}.access_token"]
    refresh = vault.items[f"tacho.{device}.refresh_token"]
    assert len(access) > 20 and len(refresh) > 20
    stored = _file_bytes(db)
    assert access.encode() not in stored and refresh.encode() not in stored

    # The token works until sign-out, and sign-out revokes it at the relay at once.
    def call_with(token):
        req = urllib.request.Request(f"{relay}/v1/pull?cursor=0", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    assert call_with(access) == 200
    report = asyncio.run(core.logout(False))
    assert report.revoked_on_relay and not report.forgot_data and report.unsynced_ops == 0
    assert vault.items == {}
    assert call_with(access) == 401
    assert not asyncio.run(core.is_signed_in())
    # Local records stay after a plain sign-out.
    assert [p.name for p in asyncio.run(core.projects())] == ["Acme"]
    with pytest.raises(tacho.TachoError.Auth):
        asyncio.run(core.sync_once())
