"""The FastAPI app factory: REST, WebSocket and the console, fed from MQTT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.feed import Feed, LiveState
from api.hub import Frame, Hub
from api.routes import Services, api, read_zones_geojson, ws
from api.settings import ApiSettings
from fusion.store import AlertStore

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _deliver_on(loop: asyncio.AbstractEventLoop, hub: Hub) -> Callable[[Frame], None]:
    """A thread-safe hand-over of frames from the MQTT thread to the hub on ``loop``."""

    def deliver(frame: Frame) -> None:
        try:
            loop.call_soon_threadsafe(hub.publish, frame)
        except RuntimeError:
            log.debug("event loop closed; dropping a frame during shutdown")

    return deliver


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app(settings: ApiSettings, *, start_feed: bool = True) -> FastAPI:
    """The API and console; its lifespan opens the alert store and starts the MQTT feed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = AlertStore(settings.alerts_path)
        hub = Hub(settings.client_queue_size, settings.client_alert_backlog)
        state = LiveState(settings.track_history)
        feed = Feed(settings, store, state, _deliver_on(asyncio.get_running_loop(), hub))
        app.state.services = Services(settings, store, state, hub, feed, read_zones_geojson(settings.zones_file))
        if start_feed:
            feed.start()
        try:
            yield
        finally:
            await asyncio.to_thread(feed.stop)
            store.close()

    app = FastAPI(title="Sargas", summary="Live tracks, alerts and sensor health of a Sargas site.",
                  lifespan=lifespan)
    app.include_router(api)
    app.include_router(ws)
    app.add_exception_handler(Exception, _internal_error)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app
