"""The ``sargas`` command's contract with scripts: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import free_port, sargas_command

SUBCOMMANDS = ["up", "sim", "serve", "fusion", "fuse", "eval", "record", "replay", "broker"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*sargas_command(), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help(sub: str) -> None:
    result = run(sub, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("sub", ["sim", "serve", "fusion", "record", "replay"])
def test_broker_commands_share_the_conventions(sub: str) -> None:
    out = run(sub, "--help").stdout
    for option in ("--broker", "--prefix"):
        assert option in out
    assert "SARGAS_BROKER" in out


@pytest.mark.parametrize("sub", ["up", "serve"])
def test_http_commands_share_the_conventions(sub: str) -> None:
    out = run(sub, "--help").stdout
    for option in ("--host", "--port", "--data-dir"):
        assert option in out


def test_a_bad_broker_url_is_a_usage_error() -> None:
    result = run("sim", "--broker", "http://example:80")
    assert result.returncode == 2
    assert "only mqtt://host:port" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_broker_fails_with_one_line(tmp_path: Path) -> None:
    result = run("fusion", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("sargas: cannot reach the MQTT broker")
    assert "Traceback" not in result.stderr


def test_fuse_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run("fuse", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"sargas: {tmp_path / 'nope.jsonl'}: no such file"


def test_an_unknown_scenario_is_a_usage_error() -> None:
    result = run("sim", "no-such-scenario", "--record", "/dev/null")
    assert result.returncode == 2
    assert "no-such-scenario" in result.stderr
    assert "Traceback" not in result.stderr


def test_sim_list_names_the_default_scenario() -> None:
    result = run("sim", "--list")
    assert result.returncode == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert "default" in names
