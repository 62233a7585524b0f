"""Packaging and deployment files: the console script, the wheel's data, Dockerfile, compose."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("up", "sim", "serve", "fuse", "record", "replay", "broker")
SCHEMA_NAMES = ("detections", "sensor_status", "truth", "tracks", "alerts", "rejected", "recording")


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def sargas_script() -> Path:
    """The ``sargas`` console script of the environment running the tests."""
    return Path(sys.executable).parent / "sargas"


def words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def sargas_services() -> dict[str, list[str]]:
    """Compose services that run the sargas image → their command as words."""
    return {name: words(svc["command"]) for name, svc in compose()["services"].items() if "command" in svc
            and words(svc["command"])[:1] == ["sargas"]}


# -- the console script ---------------------------------------------------------------------


def test_console_script_is_sargas() -> None:
    assert pyproject()["project"]["scripts"] == {"sargas": "api.cli:main"}


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_subcommand_help(sub: str) -> None:
    script = sargas_script()
    assert script.exists(), f"{script} missing: pip install -e '.[test]'"
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    done = subprocess.run([str(script), sub, "--help"], capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and sub in done.stdout


def test_test_extra_has_what_the_tests_import() -> None:
    extra = " ".join(pyproject()["project"]["optional-dependencies"]["test"]).lower()
    for name in ("pytest", "jsonschema"):
        assert name in extra, f"add {name} to [project.optional-dependencies] test"


# -- docker-compose.yml ---------------------------------------------------------------------


def test_compose_services() -> None:
    services = compose()["services"]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    commands = sargas_services()
    assert {c[1] for c in commands.values()} >= {"sim", "serve"}
    for name, command in commands.items():
        assert command[1] in SUBCOMMANDS, f"{name}: unknown subcommand {command[1]}"
        if "--export-zones" in command:
            continue
        assert "--broker" in command and command[command.index("--broker") + 1] == "mqtt://mosquitto:1883", name
        assert services[name]["depends_on"] and "mosquitto" in services[name]["depends_on"]


def test_compose_gives_the_fusion_the_zones_it_exports(tmp_path: Path) -> None:
    """The one-shot zones service really writes the file that serve reads with --zones."""
    commands = sargas_services()
    (export,) = [c for c in commands.values() if "--export-zones" in c]
    (serve,) = [c for c in commands.values() if c[1] == "serve"]
    path = export[export.index("--export-zones") + 1]
    assert serve[serve.index("--zones") + 1] == path
    target = tmp_path / Path(path).name
    exported = [*export[:export.index("--export-zones") + 1], str(target)]
    done = subprocess.run([str(Path(sys.executable).with_name("sargas")), *exported[1:]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    zones = json.loads(target.read_text())
    assert zones["type"] == "FeatureCollection"
    assert {f["properties"]["kind"] for f in zones["features"]} >= {"border", "protected"}


def test_compose_serve_is_reachable_and_durable() -> None:
    services = compose()["services"]
    (name,) = [n for n, c in sargas_services().items() if c[1] == "serve"]
    command, svc = sargas_services()[name], services[name]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8000"
    data_dir = command[command.index("--data-dir") + 1]
    assert any(str(v).split(":")[1] == data_dir for v in svc["volumes"])
    assert any(str(p).endswith(":8000") or str(p) == "8000" for p in svc["ports"])


def test_compose_sim_runs_the_default_scenario() -> None:
    (command,) = [c for c in sargas_services().values() if c[1] == "sim" and "--export-zones" not in c]
    assert command[2] == "default"


def mosquitto_config() -> tuple[str, str]:
    """(target path, content) of the Mosquitto config delivered by compose ``configs``."""
    (ref,) = compose()["services"]["mosquitto"]["configs"]
    return ref["target"], compose()["configs"][ref["source"]]["content"]


def test_mosquitto_never_drops_silently() -> None:
    target, content = mosquitto_config()
    assert target == "/mosquitto/config/mosquitto.conf"
    settings = {tuple(line.split(None, 1)) for line in content.splitlines() if line.strip()}
    for setting in (("listener", "1883"), ("allow_anonymous", "true"), ("max_queued_messages", "0"),
                    ("max_queued_bytes", "0")):
        assert setting in settings


# -- Dockerfile -----------------------------------------------------------------------------


def dockerfile() -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_installs_the_package() -> None:
    lines = dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN") and "pip install ." in line for line in lines)
    copied = " ".join(line for line in lines if line.startswith("COPY"))
    for needed in ("pyproject.toml", "README.md", "fusion", "simulators", "api"):
        assert needed in copied
    (cmd,) = [line for line in lines if line.startswith("CMD")]
    assert '"sargas"' in cmd


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in ("pyproject.toml", "README.md", "fusion", "simulators", "api"):
        assert not any(fnmatch.fnmatch(needed, pattern) for pattern in ignored), needed


# -- the wheel ------------------------------------------------------------------------------


def package_data_sources() -> list[str]:
    """Repository files that pyproject's package-data patterns select."""
    found = []
    for package, patterns in pyproject()["tool"]["setuptools"]["package-data"].items():
        base = ROOT / package.replace(".", "/")
        for pattern in patterns:
            found += [p.relative_to(ROOT).as_posix() for p in base.glob(pattern) if p.is_file()]
    return sorted(found)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """File names inside a wheel built from a clean copy of the sources."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("fusion", "simulators", "api"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("sargas-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.slow
def test_wheel_ships_the_package_data(wheel_names: set[str]) -> None:
    for name in SCHEMA_NAMES:
        assert f"fusion/protocol/schemas/{name}.json" in wheel_names
    assert "simulators/scenarios/default.yaml" in wheel_names
    assert "api/static/index.html" in wheel_names
    missing = [f for f in package_data_sources() if f not in wheel_names]
    assert missing == []


@pytest.mark.slow
def test_wheel_has_the_code_and_entry_point_only(wheel_names: set[str]) -> None:
    assert {"fusion/protocol/codec.py", "api/cli/__init__.py", "fusion/geo.py"} <= wheel_names
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in wheel_names)
    assert any(n.endswith(".dist-info/entry_points.txt") for n in wheel_names)
