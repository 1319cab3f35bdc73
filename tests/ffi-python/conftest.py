"""Fixtures for the tests over Tacho's uniffi Python bindings.

The committed bindings (tacho_uniffi/tacho_uniffi.py) load the cdylib from
their own directory, so each session copies them and the built library
($TACHO_UNIFFI_LIB, set by run.sh) into a temp dir and imports from there.
The relay binary ($TACHO_RELAY_BIN) is started on 127.0.0.1 with a port the
OS picks and a fresh SQLite file.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GPS = REPO / "testdata" / "gps"


def _required_env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run tests/ffi-python/run.sh", returncode=2)
    path = Path(value)
    if not path.is_file():
        pytest.exit(f"{name}={value} does not exist; run tests/ffi-python/run.sh", returncode=2)
    return path


@pytest.fixture(scope="session")
def tacho(tmp_path_factory):
    """The `tacho_uniffi` module, loaded against the freshly built library."""
    lib = _required_env("TACHO_UNIFFI_LIB")
    pkg = tmp_path_factory.mktemp("bindings")
    shutil.copy(HERE / "tacho_uniffi" / "tacho_uniffi.py", pkg / "tacho_uniffi.py")
    shutil.copy(lib, pkg / lib.name)
    spec = importlib.util.spec_from_file_location("tacho_uniffi", pkg / "tacho_uniffi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tacho_uniffi"] = module
    spec.loader.exec_module(module)
    return module


class ManualClock:
    """A ClockSource the test moves by hand (implements the foreign trait)."""

    def __init__(self, at: dt.datetime):
        self._ms = int(at.timestamp() * 1000)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    def set(self, at: dt.datetime) -> None:
        with self._lock:
            self._ms = int(at.timestamp() * 1000)

    def set_ms(self, ms: int) -> None:
        with self._lock:
            self._ms = ms


@pytest.fixture
def clock_factory(tacho):
    """Makes ManualClocks that are real ClockSource implementations."""

    class Clock(ManualClock, tacho.ClockSource):
        pass

    return Clock


# ---- the fixture drive -------------------------------------------------------


def load_barefoot(name: str) -> list[dict]:
    """barefoot JSON: [{"point": "POINT(lon lat)", "time": "YYYY-MM-DD HH:MM:SS+0200"}]"""
    fixes = []
    for row in json.loads((GPS / name).read_text()):
        m = re.fullmatch(r"POINT\(([-0-9.]+) ([-0-9.]+)\)", row["point"])
        assert m, row
        at = dt.datetime.strptime(row["time"], "%Y-%m-%d %H:%M:%S%z")
        fixes.append({"at_ms": int(at.timestamp() * 1000), "lon": float(m[1]), "lat": float(m[2])})
    return fixes


def load_envirocar(name: str) -> list[dict]:
    """enviroCar track GeoJSON: Point features with a `time` property."""
    fixes = []
    for feature in json.loads((GPS / name).read_text())["features"]:
        lon, lat = feature["geometry"]["coordinates"][:2]
        at = dt.datetime.strptime(feature["properties"]["time"], "%Y-%m-%dT%H:%M:%S%z")
        # Its "GPS Accuracy" phenomenon is in % (not metres), so it is not passed on.
        fixes.append({"at_ms": int(at.timestamp() * 1000), "lon": lon, "lat": lat})
    return fixes


def haversine_m(a: dict, b: dict) -> float:
    import math

    r = 6_371_008.8
    p1, p2 = math.radians(a["lat"]), math.radians(b["lat"])
    dp = p2 - p1
    dl = math.radians(b["lon"] - a["lon"])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def drive(tacho, core, clock, fixes, source=None, car_hint=None, batch=100):
    """CarPlay connect -> batched pings -> disconnect -> grace passes (tick).

    The clock follows the fixes, as it would on a phone delivering Core
    Location batches. Returns the id of the trip that ended.
    """
    import asyncio

    source = source or tacho.TripSource.CARPLAY

    async def run():
        clock.set_ms(fixes[0]["at_ms"] - 1_000)
        started = await core.connect(source, car_hint)
        assert len(started.started) == 1, started
        for i in range(0, len(fixes), batch):
            chunk = fixes[i : i + batch]
            clock.set_ms(chunk[-1]["at_ms"] + 500)
            out = await core.ping_batch([tacho.Ping(**f) for f in chunk])
            assert out.rejected_count == 0, out
        clock.set_ms(fixes[-1]["at_ms"] + 2_000)
        out = await core.disconnect()
        assert out.ended == [], "the trip waits for the grace period"
        clock.set_ms(fixes[-1]["at_ms"] + 6 * 60_000)
        out = await core.tick()
        assert out.ended == started.started, out
        return started.started[0]

    return asyncio.run(run())


# ---- the relay ---------------------------------------------------------------


@pytest.fixture
def relay(tmp_path):
    """A real tacho-relay on 127.0.0.1 (OS-chosen port) over a fresh SQLite file."""
    yield from run_relay(tmp_path)


def run_relay(tmp_path, extra_args=()):
    """Starts tacho-relay with `extra_args` (e.g. `--oidc-config`); yields its URL, then stops it."""
    binary = _required_env("TACHO_RELAY_BIN")
    env = dict(os.environ, NO_COLOR="1", TACHO_LOG="info")
    env.pop("TACHO_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            str(binary),
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            f"sqlite://{tmp_path / 'relay.db'}?mode=rwc",
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    lines: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump():
        assert proc.stdout is not None
        for line in proc.stdout:
            clean = re.sub(r"\x1b\[[0-9;]*m", "", line)
            lines.append(clean)
            m = re.search(r"addr=(127\.0\.0\.1:\d+)", clean)
            if m and "listening" in clean:
                found["addr"] = m[1]
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(timeout=60)
    if "addr" not in found:
        proc.kill()
        pytest.fail("the relay did not start:\n" + "".join(lines[-20:]))
    try:
        yield f"http://{found['addr']}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def thread_names() -> list[str]:
    """Names (Linux comm) of this process's threads."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:
            pass
    return names


def settle(seconds: float = 0.2) -> None:
    """Lets dropped objects free and background threads finish."""
    gc.collect()
    time.sleep(seconds)
