"""REST endpoints under ``/api`` and the WebSocket ``/ws``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, WebSocket
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from api.feed import Feed, LiveState, to_frame
from api.hub import Frame, Hub
from api.settings import ApiSettings
from fusion.store import AlertStore
from fusion.threat import parse_zones

AlertLevel = Literal["info", "warning", "critical"]
AlertId = Annotated[str, Field(min_length=1, max_length=128)]


def read_zones_geojson(path: Path | None) -> dict[str, Any]:
    """The site's zones as GeoJSON (validated as the fusion service does), empty without a file."""
    if path is None:
        return {"type": "FeatureCollection", "features": []}
    geojson = json.loads(path.read_text(encoding="utf-8"))
    parse_zones(geojson)
    return {"type": "FeatureCollection", "features": geojson["features"]}


@dataclass
class Services:
    """What the endpoints work with; built by the app's lifespan and kept on ``app.state``."""

    settings: ApiSettings
    store: AlertStore
    state: LiveState
    hub: Hub
    feed: Feed
    zones: dict[str, Any] = field(default_factory=lambda: read_zones_geojson(None))
    started: float = field(default_factory=time.monotonic)

    def snapshot(self, since: str | None) -> list[Frame]:
        """What a new WebSocket client gets first: tracks, statuses, then stored alerts."""
        alerts = self.store.list(since=since, limit=self.settings.snapshot_alerts)
        return self.state.frames() + [to_frame(a.alert, a.wire) for a in alerts]


def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


class AckRequest(BaseModel):
    """Who acknowledges an alert, and an optional note."""

    by: Annotated[str, Field(min_length=1, max_length=128)]
    note: Annotated[str, Field(max_length=1024)] | None = None


api = APIRouter(prefix="/api")
ws = APIRouter()


@api.get("/health")
def health(services: ServicesDep) -> dict[str, Any]:
    """Liveness and what the API has seen so far."""
    tracks = services.state.tracks
    received, rejected = services.state.counts()
    return {
        "status": "ok",
        "broker_connected": services.feed.connected,
        "uptime_s": round(time.monotonic() - services.started, 3),
        "received": received,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "tracks": len(tracks[0].tracks) if tracks else 0,
        "sensors": len(services.state.sensors()),
        "ws_clients": services.hub.client_count,
        "ws_disconnected_slow": services.hub.disconnected_slow,
        "ws_frames_dropped": services.hub.frames_dropped,
        "unacknowledged_alerts": services.store.unacknowledged(),
    }


@api.get("/tracks", responses={404: {"description": "No tracks message received yet"}})
def tracks(services: ServicesDep) -> Response:
    """The latest ``sargas.tracks/1`` message, as received."""
    latest = services.state.tracks
    if latest is None:
        raise HTTPException(404, "no tracks message received yet")
    return Response(latest[1], media_type="application/json")


@api.get("/tracks/{track_id}", responses={404: {"description": "Unknown track"}})
def track(services: ServicesDep, track_id: Annotated[str, Field(min_length=1, max_length=128)]) -> dict[str, Any]:
    """One track: its latest state (null once ended) and its recent history (positions, threat, sensors)."""
    found = services.state.track(track_id)
    if found is None:
        raise HTTPException(404, f"no track {track_id!r}")
    return found


@api.get("/zones")
def zones(services: ServicesDep) -> dict[str, Any]:
    """The site's zones: a GeoJSON FeatureCollection (name, kind, buffer_m per feature)."""
    return services.zones


@api.get("/alerts")
def list_alerts(services: ServicesDep, since: Annotated[str | None, Query(max_length=128)] = None,
                level: AlertLevel | None = None,
                limit: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> dict[str, Any]:
    """Stored alerts in order with their acknowledgements: after ``since``, else the latest."""
    alerts = services.store.list(since=since, level=level, limit=limit or services.settings.snapshot_alerts)
    return {"alerts": [a.to_dict() for a in alerts], "unacknowledged": services.store.unacknowledged()}


@api.get("/alerts/{alert_id}", responses={404: {"description": "Unknown alert"}})
def get_alert(services: ServicesDep, alert_id: AlertId) -> dict[str, Any]:
    """One stored alert with its acknowledgement."""
    stored = services.store.get(alert_id)
    if stored is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return stored.to_dict()


@api.post("/alerts/{alert_id}/ack", responses={404: {"description": "Unknown alert"}})
def ack_alert(services: ServicesDep, alert_id: AlertId, body: AckRequest) -> dict[str, Any]:
    """Acknowledge an alert; acknowledging it again keeps the first acknowledgement."""
    stored = services.store.ack(alert_id, body.by, body.note, time.time())
    if stored is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return stored.to_dict()


@api.get("/sensors")
def sensors(services: ServicesDep) -> dict[str, Any]:
    """The latest status of every sensor and its health: online, degraded, offline or stale."""
    now = time.time()
    stale = services.settings.sensor_stale_after_s
    return {"sensors": [view.to_dict(now, stale) for view in services.state.sensors()]}


@ws.websocket("/ws")
async def live(websocket: WebSocket, services: ServicesDep,
               since: Annotated[str | None, Query(max_length=128)] = None) -> None:
    """Tracks, sensor statuses and stored alerts (after ``since``), then live; one protocol message a frame."""
    await websocket.accept()
    await services.hub.serve(websocket, lambda: services.snapshot(since))
