"""Settings of the API and console service."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from fusion.mqttlink import DEFAULT_BROKER
from fusion.protocol import DEFAULT_PREFIX


@dataclass(frozen=True)
class ApiSettings:
    """Where the API listens for MQTT, where it keeps its data, and its per-client bounds."""

    broker_url: str = DEFAULT_BROKER
    prefix: str = DEFAULT_PREFIX
    data_dir: Path = field(default_factory=lambda: Path("data"))
    #: Frames waiting for one WebSocket client before stale tracks and statuses are dropped.
    client_queue_size: int = 64
    #: Unsent alerts one WebSocket client may owe before it is disconnected (code 1013).
    client_alert_backlog: int = 1000
    #: Stored alerts sent to a WebSocket client on connect, and the default page of /api/alerts.
    snapshot_alerts: int = 500
    #: A sensor not heard from for this long is ``stale`` (status comes at least every 5 s).
    sensor_stale_after_s: float = 15.0
    #: Zones of the site (GeoJSON), served at /api/zones and drawn by the console; None: no zones.
    zones_file: Path | None = None
    #: Positions kept per track for /api/tracks/{id}.
    track_history: int = 300
    #: MQTT client id; by default derived from ``data_dir`` so that the persistent session
    #: (alerts queued by the broker while the API is down) is found again after a restart.
    mqtt_client_id: str | None = None

    @property
    def alerts_path(self) -> Path:
        return self.data_dir / "alerts.sqlite"

    @property
    def client_id(self) -> str:
        """The MQTT client id in use: stable for one data directory, at most 23 characters."""
        if self.mqtt_client_id:
            return self.mqtt_client_id
        digest = hashlib.sha1(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return f"sargas-api-{digest}"
