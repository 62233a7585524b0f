"""The console in headless Chromium, driven over the DevTools protocol: tracks on the plan view,
alerts in the list, acknowledgement surviving a reload, track details and the critical cue."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from test_api_support import (
    SITE,
    T0,
    TOPICS,
    ApiServer,
    make_alert,
    make_status,
    make_tracks,
    publish,
    wait_until,
)
from websockets.sync.client import connect

from fusion.protocol import Position, Strobe

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0"]
#: Where ``SARGAS_SCREENSHOT=1`` saves the console screenshot shown in the README.
SCREENSHOT = Path(__file__).parent.parent / "docs" / "screenshot.png"
pytest_plugins = ["test_api_support"]


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol (no Playwright needed)."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 860) -> None:
        self.process = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}",
                                         f"--window-size={width},{height}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = profile / "DevToolsActivePort"
        wait_until(lambda: active.exists() and len(active.read_text().split()) == 2, timeout=30)
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=2**26)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result, skipping the events in between."""
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll a JavaScript expression until it is truthy (an exception counts as not yet: the page may be loading)."""
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        return wait_until(lambda: self.evaluate(guarded), timeout=timeout, interval=0.1)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed")
    browser = Chromium(tmp_path / "chromium-profile")
    yield browser
    browser.close()


ZONES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "border-strip", "kind": "border", "buffer_m": 300},
     "geometry": {"type": "LineString", "coordinates": [[23.30, 54.33], [23.38, 54.30]]}},
    {"type": "Feature", "properties": {"name": "post", "kind": "protected"},
     "geometry": {"type": "Polygon", "coordinates": [[[23.34, 54.31], [23.345, 54.31], [23.345, 54.313],
                                                      [23.34, 54.313], [23.34, 54.31]]]}},
]}


def strobe() -> Strobe:
    return Strobe(sensor_id="acoustic-west", time=T0, origin=Position(lat=SITE.lat, lon=SITE.lon - 0.02, alt_m=180.0),
                  azimuth_deg=40.0, sigma_deg=3.0, label="drone", label_p=0.6)


def dom(expression: str) -> str:
    """A JavaScript expression about the console's document."""
    return f"(() => {{ {expression} }})()"


def alert_item(alert_id: str) -> str:
    return f'document.querySelector(\'li[data-alert-id="{alert_id}"]\')'


@pytest.mark.slow
@pytest.mark.browser
def test_console_shows_tracks_alerts_and_acks_survive_a_reload(
        serve: Callable[..., ApiServer], publisher: mqtt.Client, chromium: Chromium, tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(ZONES))
    api = serve(zones_file=zones)
    publish(publisher, TOPICS.status("radar-north"), make_status("radar-north", t=time.time()))
    publish(publisher, TOPICS.alerts, make_alert(123, "warning"))
    chromium.open(api.url + "/")
    chromium.wait_for("document.body.dataset.connection === 'open' && document.body.dataset.zones === '2'")
    for k in range(5):
        tracks = make_tracks(T0 + k, "T-17", "T-18").model_copy(update={"strobes": [strobe()]})
        publish(publisher, TOPICS.tracks, tracks)
    chromium.wait_for("document.body.dataset.tracks === '2'")
    assert chromium.evaluate("[...document.querySelectorAll('#tracks tr')].map(r => r.dataset.trackId)") == \
        ["T-17", "T-18"]
    assert chromium.wait_for(f"{alert_item('A-000123')}?.dataset.level") == "warning"
    assert chromium.evaluate("document.body.dataset.unacknowledged") == "1"
    assert chromium.evaluate("document.querySelector('#sensors tr[data-sensor-id=\"radar-north\"]')"
                             ".dataset.health") == "online"

    publish(publisher, TOPICS.alerts, make_alert(124, "critical"))
    chromium.wait_for("document.body.dataset.cues === '1' && document.body.classList.contains('alarm')")
    assert chromium.evaluate("[...document.querySelectorAll('#alerts li')].map(li => li.dataset.alertId)") == \
        ["A-000124", "A-000123"]

    chromium.evaluate("document.querySelector('#tracks tr[data-track-id=\"T-18\"]').click()")
    details = chromium.wait_for(dom("const t = document.querySelector('#details-body').innerText;"
                                    "return t.includes('History') && t;"))
    assert "T-18" in details and "radar-north" in details and "5 positions" in details

    chromium.evaluate("document.getElementById('operator').value = 'alice'")
    chromium.evaluate(f"{alert_item('A-000123')}.querySelector('button.ack').click()")
    chromium.wait_for(f"{alert_item('A-000123')}.classList.contains('acked')")
    assert api.http.get("/api/alerts/A-000123").json()["acknowledged_by"] == "alice"

    if os.environ.get("SARGAS_SCREENSHOT"):
        chromium.screenshot(SCREENSHOT)
    chromium.call("Page.reload")
    chromium.wait_for("document.body.dataset.connection === 'open' && document.body.dataset.alerts === '2'")
    acked = chromium.wait_for(dom(f"const li = {alert_item('A-000123')};"
                                  "return li && li.classList.contains('acked') && li.innerText;"))
    assert "acknowledged by alice" in acked
    assert chromium.evaluate("document.body.dataset.unacknowledged") == "1"


@pytest.mark.slow
@pytest.mark.browser
def test_console_reconnects_by_itself_and_catches_up_on_missed_alerts(
        serve: Callable[..., ApiServer], publisher: mqtt.Client, chromium: Chromium) -> None:
    api = serve()
    publish(publisher, TOPICS.alerts, make_alert(1, "warning"))
    chromium.open(api.url + "/")
    chromium.wait_for(f"document.body.dataset.connection === 'open' && !!{alert_item('A-000001')}")
    api.stop()
    chromium.wait_for("document.body.dataset.connection !== 'open'")
    for n in (2, 3):
        publish(publisher, TOPICS.alerts, make_alert(n, "critical"))
    again = serve(port=api.port)
    wait_until(lambda: len(again.http.get("/api/alerts").json()["alerts"]) == 3)
    chromium.wait_for("document.body.dataset.connection === 'open' && document.body.dataset.alerts === '3'",
                      timeout=30)
    assert chromium.evaluate("[...document.querySelectorAll('#alerts li')].map(li => li.dataset.alertId)") == \
        ["A-000003", "A-000002", "A-000001"]
    assert chromium.evaluate("document.body.dataset.unacknowledged") == "3"
