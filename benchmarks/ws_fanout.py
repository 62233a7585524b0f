"""Fan-out of live tracks and alerts to 100 WebSocket clients, with and without a stalled client.

``sargas serve --no-fusion`` (the API alone) runs against Mosquitto. One publisher sends a
tracks message of 50 tracks twice a second and ``--alerts-per-s`` alerts (QoS 1) whose
``time`` is their wall-clock publication; 100 clients (asyncio, one process) read
everything, and the latency of an alert is its receipt minus its ``time``. In the second
run one more client completes the handshake and never reads: the others must not notice,
and it must be disconnected once it owes more alerts than its bound.

Run: ``python benchmarks/ws_fanout.py [--clients 100] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import orjson
from websockets import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alert_latency import services

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import (
    Alert,
    Threat,
    Topics,
    Track,
    TracksMessage,
    Velocity,
    encode,
)

TRACKS = 50


def tracks_message(t: float) -> bytes:
    tracks = [Track(track_id=f"T-{i}", status="confirmed", lat=54.3 + i * 1e-3, lon=23.15, alt_m=150.0,
                    velocity=Velocity(east_mps=10.0, north_mps=1.0, up_mps=0.0), position_sigma_m=8.0, label="bird",
                    label_p=0.8, sensors=["radar-0"], threat=Threat(level="none", score=0.05), first_seen=t - 60,
                    last_update=t) for i in range(TRACKS)]
    return encode(TracksMessage(time=t, tracks=tracks))


def alert_message(n: int) -> bytes:
    return encode(Alert(alert_id=f"A-{n:06d}", time=time.time(), kind="new_threat", level="warning", track_id="T-1",
                        lat=54.3, lon=23.15, message=f"Drone T-1 confirmed ({n})"))


def stalled_client(port: int) -> socket.socket:
    """Handshake, then never read (a frozen browser tab on a slow link)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    return sock


async def client(port: int, latencies: list[float], counts: list[int], index: int, stop: asyncio.Event) -> None:
    async with ws_connect(f"ws://127.0.0.1:{port}/ws", max_size=2**26) as ws:
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if '"sargas.alerts/1"' in frame[:40]:
                now = time.time()
                latencies.append(now - orjson.loads(frame)["time"])
                counts[index] += 1


def publish(broker: str, seconds: float, alerts_per_s: float) -> int:
    """Tracks at 2 Hz and alerts at ``alerts_per_s``, evenly paced; how many alerts were sent."""
    topics = Topics()
    pub = new_client()
    connect(pub, broker)
    outbox = Outbox(pub)
    start = time.time()
    next_tracks, sent = start, 0
    while time.time() - start < seconds:
        now = time.time()
        if now >= next_tracks:
            outbox.publish(topics.tracks, tracks_message(now), qos=0)
            next_tracks += 0.5
        target = start + sent / alerts_per_s
        if now >= target:
            sent += 1
            outbox.publish(topics.alerts, alert_message(sent), qos=1)
        else:
            time.sleep(max(0.0, min(target, next_tracks) - now))
    outbox.wait(30)
    pub.disconnect()
    pub.loop_stop()
    return sent


def read_health(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
        return json.load(response)  # type: ignore[no-any-return]


async def run(port: int, broker: str, clients: int, seconds: float, alerts_per_s: float, stall: bool
              ) -> dict[str, float]:
    latencies: list[float] = []
    counts = [0] * clients
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(port, latencies, counts, i, stop)) for i in range(clients)]
    stalled = stalled_client(port) if stall else None
    await asyncio.sleep(2.0)
    sent = await asyncio.to_thread(publish, broker, seconds, alerts_per_s)
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*tasks)
    if stalled is not None:
        stalled.close()
    health = await asyncio.to_thread(read_health, port)
    lat = np.array(latencies) * 1000.0
    return {"sent": sent, "min_delivered": min(counts) / sent, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "disconnected_slow": health["ws_disconnected_slow"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--alerts-per-s", type=float, default=60.0)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| clients | stalled client | alerts sent | least delivered to a client | p50 ms | p99 ms | "
          "disconnected as too slow |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for stall in (False, True):
        with services(lambda _workdir: ["--no-fusion"]) as (broker, api_port):
            r = asyncio.run(run(api_port, broker, args.clients, args.seconds, args.alerts_per_s, stall))
        print(f"| {args.clients} | {'yes' if stall else 'no'} | {r['sent']:.0f} | {r['min_delivered']:.1%} "
              f"| {r['p50']:.1f} | {r['p99']:.1f} | {r['disconnected_slow']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
