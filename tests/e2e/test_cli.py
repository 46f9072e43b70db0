"""The ``illbroker`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from builders import VALID_CONSORTIUM, write_consortium
from conformance import DEMO

ILLBROKER = [sys.executable, "-m", "broker.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run([*ILLBROKER, *args], capture_output=True, text=True, timeout=60,
                          env=env, **kw)  # type: ignore[call-overload]


def test_check_reports_located_problems_without_a_traceback(tmp_path: Path) -> None:
    path = write_consortium(tmp_path, VALID_CONSORTIUM.replace('region = "R2"', 'region = "X"'))
    result = run("check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == f'{path}: libraries[1].region: unknown region "X"'
    assert "Traceback" not in result.stderr


def test_check_accepts_a_good_file(tmp_path: Path) -> None:
    result = run("check", str(write_consortium(tmp_path)))
    assert result.returncode == 0 and "2 libraries in 2 regions" in result.stdout


@pytest.mark.parametrize("content", [b"\x00\x01garbage", b"[consortium]\nname = "])
def test_check_of_garbage_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    result = run("check", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_worker_without_redis_says_what_to_do(tmp_path: Path) -> None:
    result = run("--data", str(tmp_path), "worker", "--burst")
    assert result.returncode == 1
    assert "no REDIS_URL and no embedded Valkey" in result.stderr
    assert "Traceback" not in result.stderr


def wait_for_health(url: str, process: subprocess.Popen[str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo exited early"
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                return dict(json.load(response))
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the demo did not answer /healthz in time")


def test_demo_starts_everything_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    consortium = write_consortium(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    process = subprocess.Popen([*ILLBROKER, "--consortium", str(consortium), "--data",
                                str(tmp_path / "data"), "demo", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/", process)
        assert health["status"] == "ok" and health["consortium"]["libraries"] == 2
        children = psutil.Process(process.pid).children(recursive=True)
        roles = " ".join(" ".join(c.cmdline()) for c in children)
        assert "worker" in roles and "scheduler" in roles and "valkey-server" in roles
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        elif process.stdout is not None and not process.stdout.closed:
            # It stopped on its own (a failure above): close its pipe here, or the
            # warning about it surfaces in whichever test runs next.
            process.stdout.close()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output and "Data folder:" in output
    assert "Traceback" not in output
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_demo_on_a_busy_port_is_one_line_and_cleans_up(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--consortium", str(write_consortium(tmp_path)), "--data",
                     str(tmp_path / "data"), "demo", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_add_account_reads_the_password_from_stdin(tmp_path: Path, redis_url: str,
                                                   namespace: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace}
    args = [*ILLBROKER, "--consortium", str(write_consortium(tmp_path)), "add-account",
            "--role", "staff", "--library", "A", "--email", "desk@a.example.org",
            "--name", "Mojca Novak"]
    first = subprocess.run(args, input="kamnik-lipa-42\n", capture_output=True, text=True,
                           env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(args, input="kamnik-lipa-42\n", capture_output=True, text=True,
                           env=env, timeout=60)
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = subprocess.run([*args[:-4], "--email", "not-an-address", "--name", "X Y"],
                         input="kamnik-lipa-42\n", capture_output=True, text=True, env=env,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("illbroker: --email:")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_simulate_compares_policies_as_json_with_a_chart(tmp_path: Path) -> None:
    chart = tmp_path / "policies.svg"
    result = run("--consortium", str(DEMO / "consortium.toml"), "simulate", "--requests",
                 "150", "--days", "60", "--policies", "default,random", "--json", "--chart",
                 str(chart), "--jobs", "1")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [p["policy"] for p in found["policies"]] == ["default", "random"]
    assert found["scenario"]["requests"] == 150 and found["consortium"]["libraries"] == 9
    assert 0 < found["policies"][0]["fill_rate"] <= 1
    assert chart.read_text(encoding="utf-8").startswith("<?xml")


@pytest.mark.parametrize("args", [["--libraries", "many"], ["--supply", "2"]])
def test_simulate_answers_bad_options_in_one_line(args: list[str]) -> None:
    result = run("simulate", "--requests", "10", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
