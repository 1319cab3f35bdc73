"""A whole working day through the foreign API, the way the watch and the iOS
extensions will drive it: places and a car, a CarPlay drive replayed from a
real GPS recording, one-tap classification, a timer, and the reports."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import pytest

from conftest import drive, haversine_m, load_barefoot

# barefoot x0001-001: Munich -> Gräfelfing, 1 Hz, 13 647.1 m unfiltered with a
# 470 m freeze-and-jump (tunnel) the noise filter bridges (see testdata/gps/SOURCES.md).
MUNICH = "x0001-001.json"


class Events:
    """A CoreListener that records what it hears."""

    def __init__(self, tacho):
        outer = self

        class Listener(tacho.CoreListener):
            def on_event(self, event):
                outer.seen.append(event)

        self.seen = []
        self.listener = Listener()

    def kinds(self):
        return [type(e).__name__.rsplit(".", 1)[-1] for e in self.seen]


def test_a_whole_day(tacho, tmp_path, clock_factory):
    fixes = load_barefoot(MUNICH)
    assert len(fixes) == 1194
    first, last = fixes[0], fixes[-1]
    day_start = dt.datetime(2014, 9, 10, 5, 0, tzinfo=dt.timezone.utc)
    clock = clock_factory(day_start)
    core = tacho.Core.with_clock(
        str(tmp_path / "phone.db"), "Europe/Berlin", tacho.RuntimeKind.MULTI_THREAD, clock
    )
    events = Events(tacho)
    handle = core.subscribe(events.listener)

    async def setup():
        car = await core.add_car(
            tacho.NewCar(name="Golf", plate="M-TC 1402", make="VW", model="Golf Variant",
                         connect_hint="Golf CarPlay")
        )
        home = await core.add_place(
            tacho.NewPlace(name="Home", kind=tacho.PlaceKind.HOME, lat=first["lat"],
                           lon=first["lon"], radius_m=150.0)
        )
        office = await core.add_place(
            tacho.NewPlace(name="Office", kind=tacho.PlaceKind.OFFICE, lat=last["lat"],
                           lon=last["lon"], radius_m=150.0)
        )
        project = await core.add_project("ACME rollout", "ACME", True,
                                         tacho.Rounding.UP(minutes=15))
        return car, home, office, project

    car, home, office, project = asyncio.run(setup())
    assert [c.plate for c in asyncio.run(core.cars())] == ["M-TC 1402"]
    assert {p.name for p in asyncio.run(core.places())} == {"Home", "Office"}

    # The timer runs from 06:00 UTC, before the drive.
    clock.set(dt.datetime(2014, 9, 10, 4, 30, tzinfo=dt.timezone.utc))
    entry = asyncio.run(core.start_timer("ACME rollout", "on-site install", ["travel"]))
    assert entry.stop_ms is None and entry.project_id == project.id

    trip_id = drive(tacho, core, clock, fixes, car_hint="Golf CarPlay")

    trip = asyncio.run(core.last_ended_trip())
    assert trip is not None and trip.id == trip_id
    assert trip.state == tacho.TripState.ENDED
    assert trip.source == tacho.TripSource.CARPLAY
    assert trip.car_id == car.id, "the connect hint names the car"
    # The filtered distance: the raw path is 13 647 m including GPS jitter at
    # traffic lights; a filter may shave a little, never add.
    raw = sum(haversine_m(a, b) for a, b in zip(fixes, fixes[1:]))
    assert 13_640 < raw < 13_655
    assert 12_800 < trip.distance_m <= raw + 1, trip.distance_m
    assert trip.point_count > 1000
    assert trip.started_at_ms == first["at_ms"] - 1_000
    assert trip.ended_at_ms == last["at_ms"] + 2_000, "ends at the disconnect"
    # Home -> office is a commute by the place rule...
    assert trip.start_place_id == home.id and trip.end_place_id == office.id
    assert trip.purpose == tacho.Purpose.COMMUTE
    assert trip.purpose_by == tacho.Decider.RULE

    # ...and one tap on the watch makes it business.
    classified = asyncio.run(core.classify_trip(trip_id[:8], tacho.Purpose.BUSINESS, "ACME"))
    assert classified.purpose == tacho.Purpose.BUSINESS
    assert classified.purpose_by == tacho.Decider.USER
    assert classified.business_partner == "ACME"
    detail = asyncio.run(core.trip(trip_id))
    fields = [e.field for e in detail.history]
    assert tacho.TripField.PURPOSE in fields, "changes to an ended trip are kept"
    points = asyncio.run(core.trip_points(trip_id))
    assert len(points) == detail.point_count == trip.point_count
    assert points[0].ping.at_ms >= first["at_ms"]

    # The odometer closes the chain for the report.
    asyncio.run(core.set_trip_odometer(trip_id, tacho.TripEnd.START, 42_000.0))
    detail = asyncio.run(core.set_trip_odometer(trip_id, tacho.TripEnd.END, 42_013.6))
    assert detail.odometer_start_m == 42_000_000 and detail.odometer_end_m == 42_013_600

    # Stop the timer half an hour after arriving: 04:30 -> 05:44:02 UTC.
    stop_at = last["at_ms"] + 30 * 60_000
    clock.set_ms(stop_at)
    status = asyncio.run(core.timer_status())
    assert status.running is not None and status.project.name == "ACME rollout"
    stopped = asyncio.run(core.stop_timer())
    assert stopped.stop_ms == stop_at
    worked_s = (stop_at - entry.start_ms) // 1000
    status = asyncio.run(core.timer_status())
    assert status.running is None
    assert status.today_s == worked_s
    assert status.today_rounded_s == -(-worked_s // 900) * 900, "rounded up to 15 min"

    # A manual entry in the afternoon.
    asyncio.run(core.add_entry(tacho.NewEntry(
        project="ACME rollout", description="report writing",
        start_ms=stop_at + 3_600_000, stop_ms=stop_at + 3_600_000 + 5_400_000)))
    entries = asyncio.run(core.entries(tacho.EntryFilter(project="ACME rollout")))
    assert [e.source for e in entries] == [tacho.EntrySource.TIMER, tacho.EntrySource.MANUAL]

    # Reports: mileage (CSV and JSON) and hours.
    mileage_csv = bytes(asyncio.run(core.mileage_report("M-TC 1402", "2014-09",
                                                        tacho.ReportFormat.CSV))).decode()
    rows = list(csv.reader(io.StringIO(mileage_csv)))
    assert any("M-TC 1402" in cell for row in rows for cell in row), mileage_csv[:500]
    trip_rows = [r for r in rows if r and r[0] == "trip"]
    assert len(trip_rows) == 1, mileage_csv[:800]
    assert "business" in trip_rows[0] and "ACME" in trip_rows[0]

    mileage = json.loads(bytes(asyncio.run(
        core.mileage_report(car.id, "2014-09", tacho.ReportFormat.JSON))))
    totals = mileage["totals"]
    assert totals["trips"] == 1
    assert totals["business_m"] == 13_600, "the odometer distance wins over GPS"
    assert totals["private_m"] == 0 and totals["commute_m"] == 0

    hours = json.loads(bytes(asyncio.run(core.hours_report("2014-09", tacho.ReportFormat.JSON))))
    raw_total = worked_s + 5_400
    assert sum(r["raw"]["seconds"] for r in hours["rows"]) == raw_total, hours.keys()

    xlsx_path = tmp_path / "out" / "hours.xlsx"
    xlsx_path.parent.mkdir()
    written = asyncio.run(core.write_hours_report("2014-09", tacho.ReportFormat.XLSX,
                                                  str(xlsx_path)))
    assert written == xlsx_path.stat().st_size > 0
    assert xlsx_path.read_bytes()[:2] == b"PK", "an xlsx is a zip"
    assert list(xlsx_path.parent.iterdir()) == [xlsx_path], "no temp file left behind"

    # Every kind of change was announced.
    kinds = set(events.kinds())
    for kind in ["TRIP_STARTED", "TRIP_PROGRESS", "TRIP_ENDED", "TRIP_CHANGED",
                 "TIMER_CHANGED", "DATA_CHANGED"]:
        assert kind in kinds, (kind, kinds)
    handle.cancel()


def test_the_active_trip_shows_live_distance_and_duration(tacho, tmp_path, clock_factory):
    fixes = load_barefoot(MUNICH)[:300]
    clock = clock_factory(dt.datetime(2014, 9, 10, 4, 50, tzinfo=dt.timezone.utc))
    core = tacho.Core.with_clock(str(tmp_path / "w.db"), "Europe/Berlin",
                                 tacho.RuntimeKind.CURRENT_THREAD, clock)

    async def run():
        assert await core.active_trip() is None
        clock.set_ms(fixes[0]["at_ms"] - 1_000)
        await core.connect(tacho.TripSource.BLUETOOTH, None)
        for f in fixes:  # single pings, as a watch's location updates arrive
            clock.set_ms(f["at_ms"])
            await core.ping(tacho.Ping(**f))
        clock.set_ms(fixes[-1]["at_ms"] + 10_000)
        active = await core.active_trip()
        assert active is not None
        assert active.trip.state == tacho.TripState.ACTIVE
        assert active.duration_s == (fixes[-1]["at_ms"] + 10_000 - (fixes[0]["at_ms"] - 1_000)) // 1000
        raw = sum(haversine_m(a, b) for a, b in zip(fixes, fixes[1:]))
        assert 0.9 * raw < active.distance_m <= raw + 1, (active.distance_m, raw)
        ended = await core.end_trip()
        assert ended.ended == [active.trip.id]
        assert await core.active_trip() is None
        with pytest.raises(tacho.TachoError.Conflict):
            await core.end_trip()

    asyncio.run(run())
