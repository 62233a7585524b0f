"""The console in headless Chromium: live tracks and alerts reach the DOM."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from test_api_support import (
    T0,
    TOPICS,
    ApiServer,
    make_alert,
    make_status,
    make_tracks,
    publish,
    wait_until,
)

CHROMIUM = Path("/usr/bin/chromium")
pytest_plugins = ["test_api_support"]


def dump_dom(url: str, profile: Path) -> str:
    """The DOM of ``url`` after Chromium has run its scripts for a few (virtual) seconds."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
def test_console_shows_tracks_alerts_and_sensors(serve: Callable[..., ApiServer], publisher: mqtt.Client,
                                                 tmp_path: Path) -> None:
    api = serve()
    publish(publisher, TOPICS.status("radar-north"), make_status("radar-north"))
    publish(publisher, TOPICS.tracks, make_tracks(T0, "T-17", "T-18"))
    publish(publisher, TOPICS.alerts, make_alert(123))
    wait_until(lambda: api.http.get("/api/alerts").json()["alerts"] and api.http.get("/api/health").json()["tracks"])

    dom = dump_dom(api.url + "/", tmp_path / "chromium")
    assert 'data-track-id="T-17"' in dom and 'data-track-id="T-18"' in dom
    assert 'data-alert-id="A-000123"' in dom
    assert 'data-sensor-id="radar-north"' in dom
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    assert 'data-tracks="2"' in body.group(0)
    assert 'data-unacknowledged="1"' in body.group(0)
    assert 'data-connection="open"' in body.group(0)
