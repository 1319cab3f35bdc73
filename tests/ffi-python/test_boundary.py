"""The FFI boundary itself: typed errors for bad input, the event callback and
its handle, log forwarding, asyncio, and the two runtimes."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from conftest import settle, thread_names


@pytest.fixture
def core(tacho, tmp_path):
    return tacho.Core(str(tmp_path / "t.db"), "Europe/Amsterdam", tacho.RuntimeKind.MULTI_THREAD)


def ping(tacho, at_ms, lat=52.37, lon=4.89):
    return tacho.Ping(at_ms=at_ms, lat=lat, lon=lon)


def test_bad_input_raises_typed_errors(tacho, core, tmp_path):
    now = core.now_ms()

    async def run():
        await core.connect(tacho.TripSource.MANUAL, None)
        # NaN latitude: refused by the detector with its reason.
        with pytest.raises(tacho.TachoError.BadInput) as e:
            await core.ping(ping(tacho, now, lat=float("nan")))
        assert "finite" in str(e.value)
        with pytest.raises(tacho.TachoError.BadInput):
            await core.ping(ping(tacho, now, lat=91.0))
        # A timestamp in microseconds (a unit mix-up) or before 1970.
        for at_ms in [now * 1000, -5, 2**62]:
            with pytest.raises(tacho.TachoError.BadInput) as e:
                await core.ping(ping(tacho, at_ms))
            assert "Unix milliseconds" in str(e.value)
        # One bad timestamp fails the whole batch before anything is stored.
        with pytest.raises(tacho.TachoError.BadInput):
            await core.ping_batch([ping(tacho, now), ping(tacho, 2**62)])
        # ...whereas a NaN fix in a batch is counted, not fatal.
        out = await core.ping_batch([ping(tacho, now + 1_000), ping(tacho, now + 2_000, lat=float("nan"))])
        assert out.rejected_count == 1 and out.points == 1
        await core.end_trip()

        # Unknown ids.
        with pytest.raises(tacho.TachoError.NotFound) as e:
            await core.trip("0190d5e2-0000-7000-8000-00000000abcd")
        assert e.value.kind == "trip"
        with pytest.raises(tacho.TachoError.NotFound):
            await core.trip("not a trip id")
        with pytest.raises(tacho.TachoError.NotFound):
            await core.trips(tacho.TripFilter(car="no such car"))
        with pytest.raises(tacho.TachoError.BadInput):
            await core.mint_device_session("not-a-uuid", "watch")
        with pytest.raises(tacho.TachoError.BadInput):
            await core.trips(tacho.TripFilter(from_ms=-1))

        # Malformed dates and periods.
        with pytest.raises(tacho.TachoError.BadInput):
            await core.add_car(tacho.NewCar(name="Golf", plate="X", available_from="2026-02-30"))
        with pytest.raises(tacho.TachoError.BadInput):
            await core.hours_report("2026-13", tacho.ReportFormat.CSV)
        with pytest.raises(tacho.TachoError.BadInput):
            await core.add_project("P", None, False, tacho.Rounding.UP(minutes=0))
        with pytest.raises(tacho.TachoError.BadInput):
            await core.add_place(tacho.NewPlace(name="Nowhere", kind=tacho.PlaceKind.OTHER,
                                                lat=float("inf"), lon=0.0))

        # State conflicts and locked months.
        with pytest.raises(tacho.TachoError.Conflict):
            await core.stop_timer()
        assert await core.lock_period("2025-01") is True
        with pytest.raises(tacho.TachoError.LockedPeriod) as e:
            await core.add_entry(tacho.NewEntry(
                description="late booking",
                start_ms=tacho.parse_rfc3339_ms("2025-01-15T09:00:00+01:00"),
                stop_ms=tacho.parse_rfc3339_ms("2025-01-15T10:00:00+01:00")))
        assert e.value.month == "2025-01"
        # Not signed in.
        with pytest.raises(tacho.TachoError.Auth):
            await core.sync_once()

    asyncio.run(run())

    with pytest.raises(tacho.TachoError.BadInput):
        tacho.parse_rfc3339_ms("yesterday at nine")
    assert tacho.parse_rfc3339_ms("2026-03-02T08:15:00+01:00") == 1_772_435_700_000
    assert tacho.format_rfc3339_ms(1_772_435_700_000) == "2026-03-02T07:15:00.000Z"
    with pytest.raises(tacho.TachoError.BadInput):
        tacho.handoff_from_json('{"relay_url": 3}')
    with pytest.raises(tacho.TachoError.BadInput) as e:
        tacho.Core(str(tmp_path / "z.db"), "Mars/Olympus_Mons", tacho.RuntimeKind.CURRENT_THREAD)
    assert "time zone" in str(e.value)
    with pytest.raises(tacho.TachoError.BadInput):
        tacho.Core("", "UTC", tacho.RuntimeKind.CURRENT_THREAD)


def test_events_fire_until_the_handle_is_cancelled_or_dropped(tacho, core):
    seen_a, seen_b = [], []

    class A(tacho.CoreListener):
        def on_event(self, event):
            seen_a.append(event)

    class B(tacho.CoreListener):
        def on_event(self, event):
            seen_b.append(event)

    def wait_for(pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.01)
        return False

    handle_a = core.subscribe(A())
    handle_b = core.subscribe(B())
    asyncio.run(core.start_timer(None, "focus", []))
    assert wait_for(lambda: len(seen_a) == 1 and len(seen_b) == 1)
    assert isinstance(seen_a[0], tacho.CoreEvent.TIMER_CHANGED)
    assert not handle_a.is_finished()

    handle_a.cancel()
    del handle_b  # the foreign object going away cancels the task too
    settle()
    assert handle_a.is_finished()
    asyncio.run(core.stop_timer())
    asyncio.run(core.add_project("After", None, False, tacho.Rounding.NONE()))
    time.sleep(0.3)
    assert len(seen_a) == 1 and len(seen_b) == 1, (seen_a, seen_b)

    # A fresh listener still hears new events (the stream itself is fine).
    seen_c = []

    class C(tacho.CoreListener):
        def on_event(self, event):
            seen_c.append(event)

    handle_c = core.subscribe(C())
    asyncio.run(core.add_car(tacho.NewCar(name="Zoe", plate="Z-1")))
    assert wait_for(lambda: seen_c == [tacho.CoreEvent.DATA_CHANGED()])
    handle_c.cancel()


def test_the_log_sink_receives_records_at_the_chosen_level(tacho, tmp_path):
    records = []

    class Sink(tacho.LogSink):
        def log(self, record):
            records.append(record)

    tacho.set_log_sink(Sink(), tacho.LogLevel.INFO)
    try:
        tacho.Core(str(tmp_path / "log.db"), "UTC", tacho.RuntimeKind.CURRENT_THREAD)
        opened = [r for r in records if r.message == "opened the tacho database"]
        assert len(opened) == 1, [r.message for r in records]
        assert opened[0].level == tacho.LogLevel.INFO
        assert opened[0].target == "tacho_uniffi::core"
        assert "log.db" in opened[0].fields and "CurrentThread" in opened[0].fields
        assert all(r.level in (tacho.LogLevel.ERROR, tacho.LogLevel.WARN, tacho.LogLevel.INFO)
                   for r in records)

        # A stricter level filters it out; clearing stops forwarding.
        records.clear()
        tacho.set_log_sink(Sink(), tacho.LogLevel.WARN)
        tacho.Core(str(tmp_path / "log2.db"), "UTC", tacho.RuntimeKind.CURRENT_THREAD)
        assert not [r for r in records if r.message == "opened the tacho database"]
    finally:
        tacho.clear_log_sink()
    tacho.Core(str(tmp_path / "log3.db"), "UTC", tacho.RuntimeKind.CURRENT_THREAD)
    assert records == []


def test_async_calls_run_concurrently_from_asyncio(tacho, core):
    async def run():
        projects = [f"P{i}" for i in range(20)]
        made = await asyncio.gather(*(core.add_project(p, None, i % 2 == 0, tacho.Rounding.NONE())
                                      for i, p in enumerate(projects)))
        assert sorted(p.name for p in made) == sorted(projects)
        listed = await core.projects()
        assert sorted(p.name for p in listed) == sorted(projects)
        # The event loop stays responsive while Rust works.
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        for _ in range(10):
            await core.timer_status()
        t.cancel()
        assert ticks > 0

    asyncio.run(run())


@pytest.mark.parametrize("kind,threads", [("CURRENT_THREAD", 1), ("MULTI_THREAD", 2)])
def test_runtime_kinds(tacho, tmp_path, kind, threads):
    settle(0.5)  # threads of cores from earlier tests wind down
    before = thread_names().count("tacho-core")
    runtime = getattr(tacho.RuntimeKind, kind)
    core = tacho.Core(str(tmp_path / "rt.db"), "UTC", runtime)
    assert core.runtime_kind() == runtime

    async def run():
        await core.start_timer(None, "watch", [])
        status = await core.timer_status()
        assert status.running is not None
        await core.stop_timer()

    asyncio.run(run())
    assert thread_names().count("tacho-core") - before == threads
    del core
    settle(0.5)
    assert thread_names().count("tacho-core") == before, "dropping the core stops its threads"


def test_a_manual_clock_drives_grace_periods(tacho, tmp_path, clock_factory):
    start = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.timezone.utc)
    clock = clock_factory(start)
    core = tacho.Core.with_clock(str(tmp_path / "c.db"), "Europe/Amsterdam",
                                 tacho.RuntimeKind.CURRENT_THREAD, clock)
    assert core.now_ms() == int(start.timestamp() * 1000)

    async def run():
        started = await core.connect(tacho.TripSource.CARPLAY, None)
        clock.set(start + dt.timedelta(minutes=20))
        await core.disconnect()
        # A reconnect within the grace period (a fuel stop) resumes the trip.
        clock.set(start + dt.timedelta(minutes=23))
        again = await core.connect(tacho.TripSource.CARPLAY, None)
        assert again.resumed and again.started == []
        clock.set(start + dt.timedelta(minutes=40))
        await core.disconnect()
        clock.set(start + dt.timedelta(minutes=44))
        assert (await core.tick()).ended == []
        clock.set(start + dt.timedelta(minutes=46))
        assert (await core.tick()).ended == started.started
        trip = (await core.trip(started.started[0])).trip
        assert trip.ended_at_ms == int((start + dt.timedelta(minutes=40)).timestamp() * 1000)

    asyncio.run(run())
