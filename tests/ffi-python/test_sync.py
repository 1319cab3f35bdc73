"""A phone and a watch syncing through a real relay on 127.0.0.1: the phone
signs up, mints a device session for the watch, the watch adopts it (the
WatchConnectivity handoff, here as JSON), and both converge."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from conftest import drive, load_envirocar


def test_phone_and_watch_sync_through_a_real_relay(tacho, tmp_path, relay, clock_factory):
    fixes = load_envirocar("trackData8.json")  # Chemnitz, 74 fixes, 1 636 m
    clock = clock_factory(dt.datetime(2020, 3, 4, 12, 0, tzinfo=dt.timezone.utc))
    phone = tacho.Core.with_clock(str(tmp_path / "phone.db"), "Europe/Berlin",
                                  tacho.RuntimeKind.MULTI_THREAD, clock)
    watch = tacho.Core(str(tmp_path / "watch.db"), "Europe/Berlin",
                       tacho.RuntimeKind.CURRENT_THREAD)
    assert phone.device_id() != watch.device_id()

    heard = []

    class WatchListener(tacho.CoreListener):
        def on_event(self, event):
            heard.append(event)

    handle = watch.subscribe(WatchListener())

    async def sign_in():
        assert not await phone.is_signed_in()
        status = await phone.signup(relay, "driver@example.org", "correct horse battery staple")
        assert status.signed_in and status.relay_url == relay and status.account_id
        await phone.add_car(tacho.NewCar(name="Skoda", plate="C-EV 8"))
        return status

    status = asyncio.run(sign_in())
    trip_id = drive(tacho, phone, clock, fixes, car_hint="Skoda")

    async def sync_phone_and_hand_over():
        before = await phone.sync_status()
        assert before.pending_ops > 0
        report = await phone.sync_once()
        assert report.pushed == before.pending_ops and report.parked == 0
        after = await phone.sync_status()
        assert after.pending_ops == 0 and after.parked_ops == 0 and after.last_error is None
        handoff = await phone.mint_device_session(watch.device_id(), "Apple Watch")
        assert handoff.device_id == watch.device_id() and handoff.relay_url == relay
        # The phone can't adopt a session minted for the watch.
        with pytest.raises(tacho.TachoError.BadInput):
            await phone.adopt_device_session(handoff)
        with pytest.raises(tacho.TachoError.BadInput):
            await phone.mint_device_session(phone.device_id(), "me")
        return tacho.handoff_to_json(handoff)

    wire = asyncio.run(sync_phone_and_hand_over())
    assert "password" not in wire

    async def watch_adopts_and_syncs():
        handoff = tacho.handoff_from_json(wire)
        status_w = await watch.adopt_device_session(handoff)
        assert status_w.signed_in and status_w.account_id == status.account_id
        report = await watch.sync_once()
        assert report.pulled >= 1 and report.changed >= 1
        trips = await watch.trips(tacho.TripFilter())
        return report, trips

    report, trips = asyncio.run(watch_adopts_and_syncs())
    phone_trip = asyncio.run(phone.trip(trip_id)).trip
    assert [t.id for t in trips] == [trip_id]
    synced = trips[0]
    assert synced.state == tacho.TripState.ENDED
    assert synced.distance_m == pytest.approx(phone_trip.distance_m)
    assert 1_400 < synced.distance_m < 1_700
    assert synced.started_at_ms == phone_trip.started_at_ms
    assert [c.plate for c in asyncio.run(watch.cars())] == ["C-EV 8"]
    assert tacho.CoreEvent.DATA_CHANGED() in heard, "the watch UI hears about synced data"
    handle.cancel()

    # One tap on the watch travels back to the phone.
    async def classify_on_the_watch():
        await watch.classify_trip(trip_id, tacho.Purpose.PRIVATE, None)
        pushed = await watch.sync_once()
        assert pushed.pushed >= 1
        await phone.sync_once()
        return (await phone.trip(trip_id)).trip

    back = asyncio.run(classify_on_the_watch())
    assert back.purpose == tacho.Purpose.PRIVATE
    assert back.purpose_by == tacho.Decider.USER

    # Wrong password: Auth; unreachable relay: Network (still only loopback).
    other = tacho.Core(str(tmp_path / "other.db"), "UTC", tacho.RuntimeKind.CURRENT_THREAD)
    with pytest.raises(tacho.TachoError.Auth):
        asyncio.run(other.login(relay, "driver@example.org", "wrong password"))
    with pytest.raises(tacho.TachoError.Network):
        asyncio.run(other.login("http://127.0.0.1:9", "driver@example.org", "x"))
    with pytest.raises(tacho.TachoError.BadInput):
        asyncio.run(other.login("ftp://relay", "driver@example.org", "x"))
