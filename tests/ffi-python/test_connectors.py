"""Timesheet connectors over the FFI, offline: the local reads (conflict count, inbox,
per-entry badges) answer without a relay, and the relay calls fail with typed errors
(a malformed conflict id before any network call; no session: Auth). The reads over
conflicts and links written by a relay's connector device are tested in Rust
(watch/rust/src/core.rs), where a test can apply pulled ops to the store file."""

from __future__ import annotations

import asyncio

import pytest


def test_connector_reads_are_local_and_relay_calls_fail_typed(tacho, tmp_path):
    core = tacho.Core(str(tmp_path / "t.db"), "UTC", tacho.RuntimeKind.CURRENT_THREAD)

    async def run():
        assert await core.conflict_count() == 0
        assert await core.conflicts(False) == []
        assert await core.conflicts(True) == []
        assert await core.connector_links() == []
        assert await core.entry_sync_states() == []
        with pytest.raises(tacho.TachoError.BadInput) as e:
            await core.resolve_conflict("conflict-7", tacho.Resolution.DISMISS)
        assert "conflict-7" in str(e.value)
        # Connections and resolutions live on the relay: signed out, both say so.
        with pytest.raises(tacho.TachoError.Auth):
            await core.connectors()
        with pytest.raises(tacho.TachoError.Auth):
            await core.resolve_conflict(
                "0190d5e2-0000-7000-8000-00000000abcd", tacho.Resolution.KEEP_LOCAL
            )
        with pytest.raises(tacho.TachoError.Auth):
            await core.connector_run("work kimai", 1)

    asyncio.run(run())


def test_connector_enums_cross_the_ffi(tacho):
    assert {r.name for r in tacho.Resolution} == {"KEEP_LOCAL", "KEEP_REMOTE", "DISMISS"}
    assert {s.name for s in tacho.LinkState} == {"PENDING", "SYNCED", "CONFLICT", "ERROR"}
    assert {s.name for s in tacho.ConnectorState} == {
        "ACTIVE", "PAUSED", "DISABLED", "QUOTA", "UNKNOWN"
    }
