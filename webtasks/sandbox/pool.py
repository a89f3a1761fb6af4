"""Warm sandbox slots: a Chromium and a runner process per run, started ahead, killed after.

Each slot is used by exactly one run, so runs never share a browser, cookies, cache or processes.
Slots are started before they are needed (`WEBTASKS_WARM_SLOTS`), so a run pays neither a browser
start nor a Playwright start. Both processes run under bubblewrap when the machine has it: the
filesystem is read-only but for the slot's own directory, the data directory is hidden, and the
environment is scrubbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import webtasks
from webtasks.config import Settings
from webtasks.sandbox.bridge import SOCKET_NAME, Relay, serve_unix
from webtasks.sandbox.browser import CHROMIUM_FLAGS, chromium_path
from webtasks.sandbox.runner import CODE_FILE

log = logging.getLogger("webtasks.sandbox")

START_TIMEOUT_SECONDS = 30.0
TICK_SECONDS = 2.0
SANDBOX_NICENESS = 10


class SandboxError(RuntimeError):
    """The sandbox itself could not run (browser would not start, runner crashed on start-up)."""


@dataclass
class SandboxJob:
    code: str
    params: dict[str, Any]
    start_url: str | None
    run_id: str
    deadline: float
    proxy: str | None = None
    block_private_network: bool = False


@dataclass
class SandboxOutcome:
    """What one run left behind in its slot directory; `cleanup()` removes it."""

    workdir: Path
    ok: bool
    timed_out: bool
    error: dict[str, Any] | None
    url: str | None
    files: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0
    snapshot: str | None = None

    @property
    def output_path(self) -> Path:
        return self.workdir / "output.json"

    def artifact(self, name: str) -> Path | None:
        path = self.workdir / name
        return path if path.is_file() else None

    def log_lines(self) -> list[dict[str, Any]]:
        path = self.workdir / "log.jsonl"
        if not path.exists():
            return []
        lines = []
        for raw in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(raw))
        return lines

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@cache
def bubblewrap_available() -> bool:
    binary = shutil.which("bwrap")
    if not binary:
        return False
    probe = subprocess.run(
        [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "true"],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


def _package_root() -> str:
    return str(Path(webtasks.__file__).resolve().parent.parent)


def sandbox_env(workdir: Path) -> dict[str, str]:
    """The whole environment sandboxed processes get: no keys, no credentials, no service config."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": _package_root(),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _worker_root() -> Path:
    """This process's directory for slot directories; those of processes that died (killed workers) go."""
    base = Path(tempfile.gettempdir()) / "webtasks-sandbox"
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob("pid-*"):
        pid = stale.name.removeprefix("pid-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    return base / f"pid-{os.getpid()}"


class SandboxPool:
    def __init__(self, conf: Settings, *, headed: bool = False) -> None:
        self._conf = conf
        self._headed = headed
        self._root = _worker_root()
        self._ready: list[_Slot] = []
        # Executions beyond this wait their turn (heartbeating) instead of thrashing the machine's CPUs.
        self._capacity = asyncio.Semaphore(conf.max_browsers)
        self._warming: list[asyncio.Task[_Slot]] = []
        self._closed = False
        # A headed browser needs the X server's socket, which the sandbox hides: local trials only.
        self.use_bubblewrap = conf.sandbox != "off" and not headed and bubblewrap_available()
        if conf.sandbox == "on" and not self.use_bubblewrap:
            raise SandboxError("WEBTASKS_SANDBOX=on but bubblewrap (`bwrap`) is missing or cannot run here")
        if not self.use_bubblewrap:
            log.warning(
                "bubblewrap is not available: automation code runs as a separate process with a scrubbed "
                "environment and resource limits, but without a read-only filesystem (apt-get install bubblewrap)"
            )

    async def start(self) -> None:
        self._top_up()

    async def close(self) -> None:
        """Kill every slot, those still warming included (they are let finish, so nothing is left behind)."""
        self._closed = True
        warming, self._warming = self._warming, []
        for task in warming:
            with contextlib.suppress(Exception):
                await (await task).discard()
        for slot in self._ready:
            await slot.discard()
        self._ready.clear()
        with contextlib.suppress(OSError):
            self._root.rmdir()

    def _top_up(self) -> None:
        """Warm slots until `warm_slots` are ready or on their way; never more, however busy the worker is."""
        while not self._closed and len(self._ready) + len(self._warming) < self._conf.warm_slots:
            task = asyncio.create_task(self._start_slot())
            self._warming.append(task)
            task.add_done_callback(self._warmed)

    def _warmed(self, task: asyncio.Task[_Slot]) -> None:
        """A warm-up nobody has claimed yet lands in the ready list."""
        if task not in self._warming:
            return
        self._warming.remove(task)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.warning("could not warm a sandbox slot: %s", error)
            return
        self._ready.append(task.result())

    async def _start_slot(self) -> _Slot:
        return await _Slot.start(self._conf, self._root, self.use_bubblewrap, self._headed)

    async def _take(self) -> _Slot:
        """A ready slot, else the oldest one still warming, else a new one."""
        while self._ready:
            slot = self._ready.pop(0)
            if slot.alive():
                return slot
            await slot.discard()
        if self._warming:
            task = self._warming.pop(0)
            with contextlib.suppress(SandboxError):
                slot = await task
                if slot.alive():
                    return slot
                await slot.discard()
        return await self._start_slot()

    @contextlib.asynccontextmanager
    async def explore(self, job: SandboxJob) -> AsyncIterator[ExploreSession]:
        """A browser session for tool calls (no code file); killed when the block exits."""
        slot = await self._take()
        try:
            await slot.send(job, mode="explore")
            yield ExploreSession(slot)
        finally:
            await slot.discard()
            self._top_up()

    async def run(self, job: SandboxJob, on_tick: Callable[[], Awaitable[None] | None] | None = None) -> SandboxOutcome:
        """Run one job in a slot of its own; the slot is killed afterwards, whatever happened."""
        async with self._capacity:
            return await self._run(job, on_tick)

    async def _run(self, job: SandboxJob, on_tick: Callable[[], Awaitable[None] | None] | None) -> SandboxOutcome:
        slot = await self._take()
        try:
            outcome = await slot.execute(job, on_tick, wall_limit=self._conf.sandbox_wall_seconds)
        except BaseException:
            await slot.discard()
            raise
        else:
            await slot.kill()  # the outcome's files stay until `outcome.cleanup()`
            return outcome
        finally:
            # Warm the replacement only now, so it does not compete for CPU with the run it replaces.
            self._top_up()


class ExploreSession:
    """A live sandboxed browser for the authoring model's tools; one call at a time."""

    def __init__(self, slot: _Slot) -> None:
        self._slot = slot

    async def call(self, tool: str, tool_input: dict[str, Any], timeout: float = 60.0) -> tuple[bool, str]:
        runner = self._slot.runner
        if runner.returncode is not None or runner.stdin is None or runner.stdout is None:
            return False, "the browser session has ended"
        runner.stdin.write((json.dumps({"tool": tool, "input": tool_input}) + "\n").encode())
        await runner.stdin.drain()
        try:
            line = await asyncio.wait_for(runner.stdout.readline(), timeout)
        except TimeoutError:
            await self._slot.kill()
            return False, f"the browser did not answer {tool} within {timeout:.0f} s; the session was reset"
        if not line:
            return False, "the browser session ended unexpectedly"
        answer = json.loads(line)
        return bool(answer.get("ok")), str(answer.get("text", ""))


class _Slot:
    def __init__(self, workdir: Path, browser: asyncio.subprocess.Process) -> None:
        self.workdir = workdir
        self.browser = browser
        self._runner: asyncio.subprocess.Process | None = None
        self._bridge: Relay | None = None

    @property
    def runner(self) -> asyncio.subprocess.Process:
        assert self._runner is not None, "the slot's runner has not been started"
        return self._runner

    @runner.setter
    def runner(self, process: asyncio.subprocess.Process) -> None:
        self._runner = process

    @classmethod
    async def start(cls, conf: Settings, root: Path, bubblewrap: bool, headed: bool = False) -> _Slot:
        root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="slot-", dir=root))
        (workdir / "tmp").mkdir()
        (workdir / "profile").mkdir()
        chromium = chromium_path(conf.chromium)
        if chromium is None:
            raise SandboxError("no Chromium found: install Debian's `chromium` or set WEBTASKS_CHROMIUM")
        hide = [conf.data_dir]
        flags = [f for f in CHROMIUM_FLAGS if not (headed and f.startswith("--headless"))]
        browser = await _spawn(
            [chromium, *flags, f"--user-data-dir={workdir / 'profile'}"],
            workdir,
            hide,
            bubblewrap,
            limits=None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            log_name="browser.log",
        )
        slot = cls(workdir, browser)
        try:
            port, path = await asyncio.wait_for(slot._devtools_endpoint(), START_TIMEOUT_SECONDS)
            slot._bridge = await serve_unix(workdir / SOCKET_NAME, "127.0.0.1", port)
            slot.runner = await _spawn(
                [sys.executable, "-m", "webtasks.sandbox.runner", str(workdir), path],
                workdir,
                hide,
                bubblewrap,
                limits=(conf.sandbox_memory_mb, conf.sandbox_cpu_seconds),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                log_name="runner.log",
                own_network=True,
            )
            assert slot.runner.stdout is not None
            ready = await asyncio.wait_for(slot.runner.stdout.readline(), START_TIMEOUT_SECONDS)
            if ready.strip() != b"ready":
                raise SandboxError(f"the runner did not start: {slot._tail('runner.log')}")
        except (TimeoutError, SandboxError) as exc:
            await slot.discard()
            raise SandboxError(f"sandbox slot did not start: {exc}") from exc
        return slot

    async def _devtools_endpoint(self) -> tuple[int, str]:
        """The browser's DevTools port on loopback and its websocket path."""
        port_file = self.workdir / "profile" / "DevToolsActivePort"
        while True:
            if self.browser.returncode is not None:
                raise SandboxError(f"Chromium exited at start: {self._tail('browser.log')}")
            with contextlib.suppress(FileNotFoundError):
                lines = port_file.read_text().split("\n")
                if len(lines) >= 2 and lines[1]:
                    return int(lines[0]), lines[1].strip()
            await asyncio.sleep(0.02)

    def _tail(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / name).read_text(errors="replace")[-2000:]
        return ""

    def alive(self) -> bool:
        return self.browser.returncode is None and self._runner is not None and self._runner.returncode is None

    async def send(self, job: SandboxJob, mode: str = "run") -> None:
        line = {
            "mode": mode,
            "params": job.params,
            "startUrl": job.start_url,
            "runId": job.run_id,
            "deadline": job.deadline,
            "proxy": job.proxy,
            "blockPrivateNetwork": job.block_private_network,
        }
        assert self.runner.stdin is not None
        self.runner.stdin.write((json.dumps(line) + "\n").encode())
        await self.runner.stdin.drain()

    async def execute(
        self, job: SandboxJob, on_tick: Callable[[], Awaitable[None] | None] | None, wall_limit: float
    ) -> SandboxOutcome:
        (self.workdir / CODE_FILE).write_text(job.code)
        started = time.monotonic()
        await self.send(job)
        limit = max(0.0, min(job.deadline - time.time(), wall_limit))
        timed_out = False
        assert self.runner.stdout is not None
        waiter = asyncio.ensure_future(self.runner.stdout.readline())
        try:
            while not waiter.done():
                left = limit - (time.monotonic() - started)
                if left <= 0:
                    timed_out = True
                    break
                await asyncio.wait({waiter}, timeout=min(TICK_SECONDS, left))
                if on_tick is not None:
                    maybe = on_tick()
                    if maybe is not None:
                        await maybe
        finally:
            if not waiter.done():
                await self.kill()
                waiter.cancel()
        return self._outcome(timed_out, time.monotonic() - started, limit)

    def _outcome(self, timed_out: bool, elapsed: float, limit: float) -> SandboxOutcome:
        result_path = self.workdir / "result.json"
        if timed_out:
            error = {
                "exceptionType": "TimeoutError",
                "message": f"the automation was stopped at its wall-clock limit of {limit:.0f} s",
            }
            return SandboxOutcome(self.workdir, ok=False, timed_out=True, error=error, url=None, elapsed=elapsed)
        if not result_path.exists():
            code = self.runner.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            if code == -signal.SIGKILL or code == -signal.SIGXCPU:
                how += " (a CPU or memory limit may have been reached)"
            error = {
                "exceptionType": "SandboxError",
                "message": f"the runner process ended without a result ({how})",
                "traceback": self._tail("runner.log"),
            }
            return SandboxOutcome(self.workdir, ok=False, timed_out=False, error=error, url=None, elapsed=elapsed)
        data = json.loads(result_path.read_text())
        return SandboxOutcome(
            self.workdir,
            ok=bool(data.get("ok")),
            timed_out=False,
            error=data.get("error"),
            url=data.get("url"),
            files=data.get("files") or [],
            elapsed=elapsed,
            snapshot=data.get("snapshot"),
        )

    async def kill(self) -> None:
        """Kill both process groups; bubblewrap takes everything in its PID namespace with it."""
        if self._bridge is not None:
            self._bridge.close()
        processes = [p for p in (self._runner, self.browser) if p is not None]
        for proc in processes:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        for proc in processes:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
        await asyncio.to_thread(shutil.rmtree, self.workdir / "profile", ignore_errors=True)

    async def discard(self) -> None:
        """Kill the slot and remove its directory: nothing of it is needed any more."""
        await self.kill()
        await asyncio.to_thread(shutil.rmtree, self.workdir, ignore_errors=True)


def _limits(limits: tuple[int, int] | None) -> Callable[[], None]:
    """Applied in the child before exec: lower priority, then memory and CPU caps for the runner.

    Sandboxed work runs at a lower priority than the worker and Temporal, so untrusted code and the
    warming of the next slot never starve the control plane of the run in progress.
    """

    def apply() -> None:
        os.nice(SANDBOX_NICENESS)
        if limits is not None:
            memory_mb, cpu_seconds = limits
            resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))

    return apply


async def _spawn(
    argv: list[str],
    workdir: Path,
    hide: list[Path],
    bubblewrap: bool,
    limits: tuple[int, int] | None,
    log_name: str,
    own_network: bool = False,
    **streams: Any,
) -> asyncio.subprocess.Process:
    """Start a sandboxed process; with `own_network` (under bubblewrap) it has no network but loopback."""
    env = sandbox_env(workdir)
    if display := os.environ.get("DISPLAY"):
        env["DISPLAY"] = display
    if bubblewrap:
        tmp_root = Path(tempfile.gettempdir()).resolve()
        masks: list[str] = []
        for path in hide:
            resolved = path.resolve()
            if resolved.exists() and not resolved.is_relative_to(tmp_root):
                masks += ["--tmpfs", str(resolved)]
        for needed in {Path(sys.prefix).resolve(), Path(_package_root())}:
            if needed.is_relative_to(tmp_root):
                masks += ["--ro-bind", str(needed), str(needed)]
        setenv = [arg for key, value in env.items() for arg in ("--setenv", key, value)]
        argv = [
            "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", str(tmp_root), *masks, "--bind", str(workdir), str(workdir),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", *(["--unshare-net"] if own_network else []),
            "--die-with-parent",
            "--chdir", str(workdir), "--clearenv", *setenv, "--", *argv,
        ]  # fmt: skip
    with open(workdir / log_name, "wb") as stderr:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env=env,
            start_new_session=True,
            preexec_fn=_limits(limits),
            stderr=stderr,
            **streams,
        )
