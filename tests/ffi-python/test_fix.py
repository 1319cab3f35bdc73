"""Fixing what was recorded through the foreign API (issue 12): edit, delete and
restore time entries with their history; archive, delete and restore projects,
cars and places; discard, restore, merge and split trips; locked months refuse
all of it with a typed error and leave the data as it was."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from conftest import drive, load_barefoot

MUNICH = "x0001-001.json"


@pytest.fixture
def core(tacho, tmp_path):
    return tacho.Core(str(tmp_path / "t.db"), "Europe/Berlin", tacho.RuntimeKind.MULTI_THREAD)


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def fields(tacho, history):
    return [(h.field, h.old_value, h.new_value) for h in history]


def test_an_entry_is_edited_and_its_history_kept(tacho, core):
    async def run():
        acme = await core.add_project("ACME", "ACME GmbH", True, tacho.Rounding.NONE())
        beta = await core.add_project("Beta", None, False, tacho.Rounding.NONE())
        entry = await core.add_entry(tacho.NewEntry(
            project="ACME", description="instal", tags=["onsite"],
            start_ms=ms("2026-03-02T09:00:00+01:00"), stop_ms=ms("2026-03-02T11:00:00+01:00")))
        assert entry.project_id == acme.id

        detail = await core.edit_entry(entry.id, tacho.EntryEdit(
            project="Beta", description="install", tags=["onsite", "travel"],
            stop_ms=ms("2026-03-02T11:30:00+01:00")))
        assert detail.entry.project_id == beta.id
        assert detail.entry.description == "install"
        assert detail.entry.tags == ["onsite", "travel"]
        assert detail.entry.stop_ms == ms("2026-03-02T11:30:00+01:00")
        assert detail.project is not None and detail.project.name == "Beta"
        F = tacho.EntryField
        # One edit: each changed field once (their order within one edit is the core's).
        assert sorted(fields(tacho, detail.history), key=str) == sorted([
            (F.PROJECT, "ACME", "Beta"),
            (F.DESCRIPTION, "instal", "install"),
            (F.STOP, "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z"),
            (F.TAGS, "onsite", "onsite, travel"),
        ], key=str)
        assert {h.entry_id for h in detail.history} == {entry.id}
        assert all(h.device_id == core.device_id() for h in detail.history)

        # The history is read back the same; an edit that changes nothing adds nothing.
        again = await core.entry(entry.id)
        assert again == detail
        same = await core.edit_entry(entry.id, tacho.EntryEdit(description="install"))
        assert same.history == detail.history

        # Clearing the project; asking to set and clear at once is refused.
        with pytest.raises(tacho.TachoError.BadInput):
            await core.edit_entry(entry.id, tacho.EntryEdit(project="ACME", clear_project=True))
        cleared = await core.edit_entry(entry.id, tacho.EntryEdit(clear_project=True))
        assert cleared.entry.project_id is None and cleared.project is None
        assert fields(tacho, cleared.history)[-1] == (F.PROJECT, "Beta", None)
        with pytest.raises(tacho.TachoError.NotFound):
            await core.edit_entry(entry.id, tacho.EntryEdit(project="Nope"))

    asyncio.run(run())


def test_an_entry_is_deleted_and_restored(tacho, core):
    async def run():
        entry = await core.add_entry(tacho.NewEntry(
            description="duplicate", start_ms=ms("2026-03-03T09:00:00+01:00"),
            stop_ms=ms("2026-03-03T10:00:00+01:00")))
        listed = lambda: core.entries(tacho.EntryFilter())  # noqa: E731
        assert [e.id for e in await listed()] == [entry.id]

        assert await core.delete_entry(entry.id) is True
        assert await listed() == []
        assert (await core.entry(entry.id)).deleted is True
        assert await core.delete_entry(entry.id) is False
        with pytest.raises(tacho.TachoError.Conflict):
            await core.edit_entry(entry.id, tacho.EntryEdit(description="x"))

        restored = await core.restore_entry(entry.id)
        assert restored.deleted is False and restored.entry == entry
        assert [e.id for e in await listed()] == [entry.id]
        F = tacho.EntryField
        assert fields(tacho, restored.history) == [(F.DELETED, "no", "yes"), (F.DELETED, "yes", "no")]

    asyncio.run(run())


def test_a_project_in_use_is_archived_not_deleted(tacho, core):
    async def run():
        used = await core.add_project("ACME", "ACME GmbH", True, tacho.Rounding.NONE())
        spare = await core.add_project("Spare", None, False, tacho.Rounding.NONE())
        await core.add_entry(tacho.NewEntry(
            project="ACME", start_ms=ms("2026-03-04T09:00:00+01:00"),
            stop_ms=ms("2026-03-04T10:00:00+01:00")))

        with pytest.raises(tacho.TachoError.InUse) as e:
            await core.delete_project("ACME")
        assert (e.value.kind, e.value.name, e.value.count) == ("project", "ACME", 1)
        assert "archive" in str(e.value)
        assert {p.name for p in await core.project_list(False)} == {"ACME", "Spare"}

        archived = await core.archive_project(used.id, True)
        assert archived.archived is True
        assert [p.name for p in await core.project_list(False)] == ["Spare"]
        assert {p.name for p in await core.project_list(True)} == {"ACME", "Spare"}
        # No new time is booked on an archived project.
        with pytest.raises(tacho.TachoError.Conflict):
            await core.add_entry(tacho.NewEntry(
                project="ACME", start_ms=ms("2026-03-05T09:00:00+01:00"),
                stop_ms=ms("2026-03-05T10:00:00+01:00")))
        assert (await core.archive_project("ACME", False)).archived is False

        edited = await core.edit_project(spare.id, tacho.ProjectChange(
            name="Spare time", client="Me", billable=True, rounding=tacho.Rounding.UP(minutes=15)))
        assert (edited.name, edited.client, edited.billable) == ("Spare time", "Me", True)
        assert edited.rounding == tacho.Rounding.UP(minutes=15)
        edited = await core.edit_project("Spare time", tacho.ProjectChange(clear_client=True))
        assert edited.client is None
        with pytest.raises(tacho.TachoError.BadInput):
            await core.edit_project("Spare time", tacho.ProjectChange(rounding=tacho.Rounding.UP(minutes=0)))

        assert await core.delete_project("Spare time") is True
        assert await core.delete_project("Spare time") is False
        assert "Spare time" not in {p.name for p in await core.project_list(True)}
        assert (await core.restore_project(spare.id)).name == "Spare time"
        assert "Spare time" in {p.name for p in await core.project_list(False)}

    asyncio.run(run())


def test_cars_are_edited_and_retired_places_edited_and_deleted(tacho, core):
    async def run():
        golf = await core.add_car(tacho.NewCar(name="Golf", plate="M-TC 1402", make="VW"))
        edited = await core.edit_car("Golf", tacho.CarChange(
            plate="M-TC 1403", clear_make=True, model="Golf Variant", available_from="2026-01-01"))
        assert (edited.plate, edited.make, edited.model, edited.available_from) == (
            "M-TC 1403", None, "Golf Variant", "2026-01-01")
        with pytest.raises(tacho.TachoError.BadInput):
            await core.edit_car(golf.id, tacho.CarChange(available_to="2026-02-30"))

        retired = await core.retire_car("M-TC 1403", True)
        assert retired.retired is True
        assert await core.car_list(False) == []
        assert [c.id for c in await core.car_list(True)] == [golf.id]
        assert (await core.retire_car(golf.id, False)).retired is False
        # A car no trip uses can be deleted, and restored.
        assert await core.delete_car(golf.id) is True
        assert await core.car_list(True) == []
        assert (await core.restore_car(golf.id)).plate == "M-TC 1403"

        home = await core.add_place(tacho.NewPlace(
            name="Home", kind=tacho.PlaceKind.HOME, lat=48.137, lon=11.575, address="Marienplatz"))
        moved = await core.edit_place("Home", tacho.PlaceChange(
            name="Home (new)", lat=48.15, lon=11.58, radius_m=200.0, clear_address=True))
        assert (moved.name, moved.lat, moved.lon, moved.radius_m, moved.address) == (
            "Home (new)", 48.15, 11.58, 200.0, None)
        with pytest.raises(tacho.TachoError.BadInput):
            await core.edit_place(home.id, tacho.PlaceChange(lat=48.0))
        with pytest.raises(tacho.TachoError.BadInput):
            await core.edit_place(home.id, tacho.PlaceChange(radius_m=1.0))
        assert await core.delete_place(home.id) is True
        assert await core.place_list(False) == []
        assert [p.id for p in await core.place_list(True)] == [home.id]
        assert (await core.restore_place(home.id)).name == "Home (new)"
        assert [p.id for p in await core.places()] == [home.id]

    asyncio.run(run())


def near(a: float, b: float) -> bool:
    """Within 0.1 %."""
    return abs(a - b) <= 0.001 * max(abs(a), abs(b))


def test_trips_are_discarded_merged_and_split(tacho, tmp_path, clock_factory):
    fixes = load_barefoot(MUNICH)
    half = len(fixes) // 2
    # Two drives: the first half, then, after a 20-minute stop, the second.
    gap = 20 * 60_000
    second_half = [dict(f, at_ms=f["at_ms"] + gap) for f in fixes[half:]]
    clock = clock_factory(dt.datetime(2014, 9, 10, 4, 0, tzinfo=dt.timezone.utc))
    core = tacho.Core.with_clock(
        str(tmp_path / "phone.db"), "Europe/Berlin", tacho.RuntimeKind.MULTI_THREAD, clock)
    car = asyncio.run(core.add_car(tacho.NewCar(name="Golf", plate="M-TC 1402",
                                                connect_hint="Golf CarPlay")))
    a = drive(tacho, core, clock, fixes[:half], car_hint="Golf CarPlay")
    b = drive(tacho, core, clock, second_half, car_hint="Golf CarPlay")
    S = tacho.TripStatus

    async def run():
        ta, tb = await core.trip(a), await core.trip(b)
        assert ta.trip.car_id == car.id and tb.trip.car_id == car.id
        assert ta.status == S.CURRENT and ta.lineage == tacho.TripLineage(
            merged_from=[], split_from=None, window_from_ms=None, window_until_ms=None,
            replaced_by=[])
        da, db = ta.trip.distance_m, tb.trip.distance_m
        assert da > 3000 and db > 3000

        # Discard and restore.
        await core.discard_trip(a)
        assert (await core.trip(a)).status == S.DISCARDED
        assert [t.id for t in await core.trips(tacho.TripFilter())] == [b]
        restored = await core.restore_trip(a)
        assert restored.changed is True and restored.trip.status == S.CURRENT
        assert (await core.restore_trip(a)).changed is False
        assert {t.id for t in await core.trips(tacho.TripFilter())} == {a, b}
        assert [h.field for h in restored.trip.history][-2:] == [
            tacho.TripField.DISCARDED, tacho.TripField.DISCARDED]

        # Merge: one trip with both distances and both point sets.
        merged = await core.merge_trips(a, b)
        assert merged.status == S.CURRENT
        assert merged.lineage.merged_from == [a, b]
        assert near(merged.trip.distance_m, da + db), (merged.trip.distance_m, da + db)
        assert merged.point_count == ta.point_count + tb.point_count
        assert merged.trip.started_at_ms == ta.trip.started_at_ms
        assert merged.trip.ended_at_ms == tb.trip.ended_at_ms
        for source in (a, b):
            replaced = await core.trip(source)
            assert replaced.status == S.REPLACED
            assert replaced.lineage.replaced_by == [merged.trip.id]
        statuses = {s.trip_id: s.status for s in await core.trip_statuses()}
        assert statuses == {a: S.REPLACED, b: S.REPLACED, merged.trip.id: S.CURRENT}
        assert [t.id for t in await core.trips(tacho.TripFilter())] == [merged.trip.id]

        # Split at the longest stop: the two drives come back.
        parts = await core.split_trip(merged.trip.id, tacho.SplitAt.LONGEST_STOP())
        first, second = parts.first, parts.second
        assert near(first.trip.distance_m, da), (first.trip.distance_m, da)
        assert near(second.trip.distance_m, db), (second.trip.distance_m, db)
        assert (first.point_count, second.point_count) == (ta.point_count, tb.point_count)
        assert first.lineage.split_from == merged.trip.id
        assert second.lineage.window_from_ms == second_half[0]["at_ms"]
        assert (await core.trip(merged.trip.id)).status == S.REPLACED

        # Split a part at a time and merge it back.
        cut = fixes[half // 2]["at_ms"]
        halves = await core.split_trip(first.trip.id, tacho.SplitAt.TIME(at_ms=cut))
        assert halves.second.trip.started_at_ms == cut
        assert near(halves.first.trip.distance_m + halves.second.trip.distance_m, da)
        back = await core.merge_trips(halves.first.trip.id, halves.second.trip.id)
        assert near(back.trip.distance_m, da), (back.trip.distance_m, da)
        assert back.point_count == ta.point_count

        # Nothing to split at, and an impossible instant.
        with pytest.raises(tacho.TachoError.BadInput):
            await core.split_trip(back.trip.id, tacho.SplitAt.TIME(at_ms=-5))
        # A trip already replaced by others can't be merged again.
        with pytest.raises(tacho.TachoError.Conflict):
            await core.merge_trips(merged.trip.id, second.trip.id)

    asyncio.run(run())


def test_a_locked_month_refuses_changes_and_keeps_the_data(tacho, tmp_path, clock_factory):
    fixes = load_barefoot(MUNICH)
    clock = clock_factory(dt.datetime(2014, 9, 10, 4, 0, tzinfo=dt.timezone.utc))
    core = tacho.Core.with_clock(
        str(tmp_path / "locked.db"), "Europe/Berlin", tacho.RuntimeKind.MULTI_THREAD, clock)
    asyncio.run(core.add_car(tacho.NewCar(name="Golf", plate="M-TC 1402",
                                          connect_hint="Golf CarPlay")))
    trip = drive(tacho, core, clock, fixes, car_hint="Golf CarPlay")

    async def run():
        await core.add_project("ACME", None, True, tacho.Rounding.NONE())
        await core.add_project("Beta", None, True, tacho.Rounding.NONE())
        entry = await core.add_entry(tacho.NewEntry(
            project="ACME", description="audit", tags=["a"],
            start_ms=ms("2014-09-10T09:00:00+02:00"), stop_ms=ms("2014-09-10T10:00:00+02:00")))
        clock.set(dt.datetime(2014, 10, 15, 9, 0, tzinfo=dt.timezone.utc))
        assert await core.lock_period("2014-09") is True

        before_entry = await core.entry(entry.id)
        before_trip = await core.trip(trip)
        refused = [
            core.edit_entry(entry.id, tacho.EntryEdit(project="Beta")),
            core.edit_entry(entry.id, tacho.EntryEdit(description="changed", tags=[])),
            core.edit_entry(entry.id, tacho.EntryEdit(stop_ms=ms("2014-09-10T11:00:00+02:00"))),
            core.delete_entry(entry.id),
            core.discard_trip(trip),
            core.split_trip(trip, tacho.SplitAt.TIME(at_ms=fixes[len(fixes) // 2]["at_ms"])),
        ]
        for call in refused:
            with pytest.raises(tacho.TachoError.LockedPeriod) as e:
                await call
            assert e.value.month == "2014-09"
        assert await core.entry(entry.id) == before_entry
        assert before_entry.history == []
        assert await core.trip(trip) == before_trip
        assert [s.status for s in await core.trip_statuses()] == [tacho.TripStatus.CURRENT]
        # Moving an entry of an open month into the locked one is refused too.
        late = await core.add_entry(tacho.NewEntry(
            description="late", start_ms=ms("2014-10-01T09:00:00+02:00"),
            stop_ms=ms("2014-10-01T10:00:00+02:00")))
        with pytest.raises(tacho.TachoError.LockedPeriod):
            await core.edit_entry(late.id, tacho.EntryEdit(
                start_ms=ms("2014-09-30T09:00:00+02:00"), stop_ms=ms("2014-09-30T10:00:00+02:00")))
        assert (await core.entry(late.id)).entry == late

    asyncio.run(run())
