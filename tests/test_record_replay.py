"""Recording and replay: byte-exact reading, rotation, crash safety, and record → replay → record through Mosquitto."""

from __future__ import annotations

import itertools
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest
import typer
from conftest import Broker, mqtt_client, sargas_command

from api.cli.simulate import parse_size
from fusion.protocol import ProtocolError, RecordingError, RecordingWriter, RecordLine, Topics, read_recording
from simulators.record import RotatingWriter, Rotation, part_path
from simulators.replay import Window, rebase, replay_recording
from simulators.runner import write_recording
from simulators.scenario import RECORDING_EPOCH, load_scenario

PREFIX = "sargas/v1"
TOPICS = Topics(PREFIX)
#: Payloads whose bytes a re-serialising reader would change: trailing zeros, spaces, escapes, key order.
ODD_PAYLOADS = [
    b'{"schema":"sargas.truth/1","time":1795766400.50,"objects":[]}',
    b'{ "time": 1795766401.0 , "schema" : "sargas.truth/1", "objects": [ ] }',
    b'{"schema":"sargas.truth/1","time":1795766402,"objects":[],"note":"caf\\u00e9 \\/ \xc3\xa9"}',
    b'{"schema":"sargas.truth/1","time":1.7957664030e9,"objects":[]}',
]


def lines(path: Path) -> list[RecordLine]:
    out = list(read_recording(path))
    assert not [e for e in out if isinstance(e, RecordingError)]
    return out  # type: ignore[return-value]


def odd_recording(path: Path) -> list[bytes]:
    """A recording of the default scenario's first 20 s plus payloads whose exact bytes matter."""
    write_recording(load_scenario("default"), path, duration_s=20.0)
    sim = lines(path)
    with RecordingWriter(path) as writer:
        for i, line in enumerate(sim):
            writer.write(line.t, line.topic, line.payload)
            if i % 50 == 0:
                writer.write(line.t, TOPICS.truth, ODD_PAYLOADS[(i // 50) % len(ODD_PAYLOADS)])
    return [line.payload for line in lines(path)]


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_the_reader_returns_the_payload_bytes_as_written(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with RecordingWriter(path) as writer:
        for i, payload in enumerate(ODD_PAYLOADS):
            writer.write(RECORDING_EPOCH + i, TOPICS.truth, payload)
    assert [line.payload for line in lines(path)] == ODD_PAYLOADS
    assert [line.t for line in lines(path)] == [RECORDING_EPOCH + i for i in range(len(ODD_PAYLOADS))]


def test_a_foreign_line_is_re_serialised_and_a_lookalike_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "foreign.jsonl"
    path.write_bytes(b'{"topic": "a/b", "t": 1.5, "payload": {"x": 1.50}}\n'
                     b'{"t":2,"topic":"a/b","payload":{"x":1},"extra":{"y":2}}\n'
                     b'{"t":3,"topic":"a\\",\\"payload\\":{}","payload":{"z":3}}\n')
    out = lines(path)
    assert [(line.t, line.topic, line.payload) for line in out] == [
        (1.5, "a/b", b'{"x":1.5}'), (2.0, "a/b", b'{"x":1}'), (3.0, 'a","payload":{}', b'{"z":3}')]


def test_a_crashed_gzip_recording_keeps_every_flushed_line(tmp_path: Path) -> None:
    path = tmp_path / "crash.jsonl.gz"
    writer = RecordingWriter(path)
    for i in range(100):
        writer.write(RECORDING_EPOCH + i, TOPICS.truth, ODD_PAYLOADS[0])
    writer.flush()
    cut = path.read_bytes()  # what a crash right after the flush leaves on disk
    writer.close()
    path.write_bytes(cut)
    out = list(read_recording(path))
    assert [line.t for line in out[:100]] == [RECORDING_EPOCH + i for i in range(100)]  # type: ignore[union-attr]
    assert len(out) == 101 and isinstance(out[100], RecordingError) and "cut short" in str(out[100])


def test_rotation_by_size_and_by_duration(tmp_path: Path) -> None:
    assert part_path(tmp_path / "cap.jsonl.gz", 3).name == "cap.0003.jsonl.gz"
    assert part_path(tmp_path / "cap", 12).name == "cap.0012"
    payload = ODD_PAYLOADS[0]
    by_size = RotatingWriter(tmp_path / "s.jsonl", Rotation(max_bytes=1000), RECORDING_EPOCH)
    by_time = RotatingWriter(tmp_path / "d.jsonl.gz", Rotation(max_seconds=10.0), RECORDING_EPOCH)
    for i in range(60):
        for writer in (by_size, by_time):
            writer.write(RECORDING_EPOCH + i, TOPICS.truth, payload)
    by_size.close()
    by_time.close()
    line_size = len(orjson.dumps({"t": RECORDING_EPOCH, "topic": TOPICS.truth, "payload": None})) - 4 + len(payload)
    per_file = -(-1000 // line_size)  # a file is closed once it has reached the size
    assert [len(lines(p)) for p in by_size.paths] == [per_file] * (60 // per_file) + ([60 % per_file] if 60 % per_file else [])
    assert [p.name for p in by_time.paths] == [f"d.{k:04d}.jsonl.gz" for k in range(1, 7)]
    assert [[line.t - RECORDING_EPOCH for line in lines(p)] for p in by_time.paths] == [
        [float(s) for s in range(k, k + 10)] for k in range(0, 60, 10)]
    assert by_time.count == by_size.count == 60


def test_rebase_moves_only_the_time_through_the_protocol() -> None:
    original = orjson.loads(ODD_PAYLOADS[0])
    moved = orjson.loads(rebase(ODD_PAYLOADS[0], 1000.25))
    assert moved == {**original, "time": round(original["time"] + 1000.25, 6)}
    with pytest.raises(ProtocolError):
        rebase(b'{"schema":"sargas.truth/1","time":-5,"objects":[]}', 1.0)


# --- through Mosquitto ------------------------------------------------------------------------


def start_recorder(sargas, broker: Broker, path: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    """``sargas record`` on the broker, returned once it has demonstrably subscribed and flushed a probe."""
    proc = sargas("record", "-o", str(path), "--broker", broker.url, stderr=subprocess.PIPE)
    probe = mqtt_client(broker.port)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe.publish(f"{PREFIX}/probe", b'{"probe":1}', qos=1).wait_for_publish(5)
            if path.exists() and any(isinstance(line, RecordLine) and line.topic.endswith("/probe")
                                     for line in read_recording(path)):
                return proc
            time.sleep(0.3)
    finally:
        probe.loop_stop()
        probe.disconnect()
    raise TimeoutError("the recorder did not start")


def recorded(path: Path) -> list[RecordLine]:
    """The protocol lines of a recording made by ``sargas record``, without the start-up probes."""
    return [line for line in read_recording(path)
            if isinstance(line, RecordLine) and not line.topic.endswith("/probe")]


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err.decode()


def test_record_replay_record_keeps_every_message_in_order_byte_for_byte(
        tmp_path: Path, mosquitto: Broker, sargas) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "source.jsonl.gz"
    payloads = odd_recording(source)
    topics = [line.topic for line in lines(source)]
    copy = tmp_path / "copy.jsonl.gz"
    recorder = start_recorder(sargas, mosquitto, copy)
    replay = subprocess.run([*sargas_command(), "replay", str(source), "--broker", mosquitto.url, "--speed", "max"],
                            capture_output=True, timeout=120, check=True)
    summary = replay.stderr.decode()
    assert f"replayed {len(payloads)} messages (1 pass)" in summary and "as fast as possible" in summary
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(recorded(copy)) < len(payloads):
        time.sleep(0.3)
    assert f"to {copy}" in stop(recorder)
    again = recorded(copy)
    assert [line.topic for line in again] == topics
    assert [line.payload for line in again] == payloads  # every message, in order, byte for byte


def test_the_recorder_flushes_so_a_crash_loses_at_most_the_last_second(
        tmp_path: Path, mosquitto: Broker, sargas) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "live.jsonl.gz"
    recorder = start_recorder(sargas, mosquitto, path)
    publisher = mqtt_client(mosquitto.port)
    try:
        for i in range(50):
            publisher.publish(TOPICS.truth, ODD_PAYLOADS[i % 4], qos=1).wait_for_publish(5)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    deadline = time.monotonic() + 30  # flushed within a second or so, without any clean exit
    while time.monotonic() < deadline and len(recorded(path)) < 50:
        time.sleep(0.2)
    recorder.kill()
    recorder.wait(timeout=10)
    assert [line.payload for line in recorded(path)] == [ODD_PAYLOADS[i % 4] for i in range(50)]


def collect_replay(mosquitto: Broker, collect, source: Path, **kwargs: object) -> list[bytes]:  # type: ignore[no-untyped-def]
    feed = collect(f"{PREFIX}/#")
    stats = replay_recording(source, mosquitto.url, float("inf"), threading.Event(), **kwargs)  # type: ignore[arg-type]
    assert feed.wait_for(lambda m: len(m) >= stats.sent, timeout=30)
    return [p for _, p, _ in feed.messages]


def test_replay_window_and_rebase_time(tmp_path: Path, mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "s.jsonl"
    write_recording(load_scenario("default"), source, duration_s=30.0)
    original = lines(source)
    inside = [line.payload for line in original if 5.0 <= line.t - RECORDING_EPOCH <= 10.0]
    assert collect_replay(mosquitto, collect, source, window=Window(5.0, 10.0)) == inside

    before = time.time()
    rebased = [orjson.loads(p) for p in collect_replay(mosquitto, collect, source, rebase_time=True)]
    assert len(rebased) == len(original)
    shift = rebased[0]["time"] - orjson.loads(original[0].payload)["time"]
    assert shift >= before - RECORDING_EPOCH
    for line, moved in zip(original, rebased, strict=True):
        old = orjson.loads(line.payload)
        assert moved == {**old, "time": pytest.approx(old["time"] + shift, abs=2e-6)}


def test_replay_loop_with_rebase_never_goes_back_in_time(tmp_path: Path, mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "s.jsonl"
    write_recording(load_scenario("default"), source, duration_s=5.0, only=["truth"])
    feed = collect(TOPICS.truth)
    halt = threading.Event()
    n = len(lines(source))
    runner = threading.Thread(target=replay_recording, args=(source, mosquitto.url, float("inf"), halt),
                              kwargs={"loop": True, "rebase_time": True})
    runner.start()
    try:
        assert feed.wait_for(lambda m: len(m) >= 3 * n, timeout=30)
    finally:
        halt.set()
        runner.join(timeout=30)
    times = [orjson.loads(p)["time"] for p in feed.on_topic(TOPICS.truth)]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[n] - times[n - 1] >= 1.0  # the next pass starts after a gap


def test_replay_cli_refuses_a_window_backwards(tmp_path: Path) -> None:
    source = tmp_path / "s.jsonl"
    source.write_bytes(b"")
    result = subprocess.run([*sargas_command(), "replay", str(source), "--from", "10", "--to", "5"],
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 2 and b"--to 5 is before --from 10" in result.stderr


@pytest.mark.parametrize(("text", "size"), [("500000", 500_000), ("64k", 65_536), ("100M", 100 << 20),
                                            ("2G", 2 << 30), ("1.5MiB", 3 << 19)])
def test_rotate_size_accepts_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-5M", "0"])
def test_rotate_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_size(text)
