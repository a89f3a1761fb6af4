"""Throughput and queueing of the concurrency model on one machine.

    python bench/concurrency.py [--runs 100] [--keys 20]

(a) 20 runs of one reuseKey started together: total time / (20 x one run's time), the cost of
    serializing a key through its lane;
(b) 100 runs over 20 keys with saved code (the fixture directory's first page), started together
    through the API: runs per minute and p50/p95 queue wait (startedAt - createdAt), with 1 and with 2
    worker processes;
(c) the same 100 extractions as bare Playwright scripts, 4 at a time: runs per minute.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reuse_latency import BARE_SCRIPT, percentile  # noqa: E402
from tests.automations import DIRECTORY_PAGE  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.sites import start_site  # noqa: E402


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Api:
    def __init__(self, base: str, workspace: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=f"{base}/api/v1/workspace/{workspace}", headers={"x-api-key": key}, timeout=60
        )

    def start(self, body: dict[str, Any]) -> str:
        response = self.http.post("/web-tasks/start", json=body)
        response.raise_for_status()
        return str(response.json()["webTaskId"])

    def wait(self, web_task_id: str, interval: float) -> dict[str, Any]:
        while True:
            body = self.http.get(f"/web-tasks/{web_task_id}/result").json()
            if body.get("status") in ("completed", "canceled"):
                return dict(body)
            time.sleep(interval)

    def burst(self, bodies: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
        """Start all, then poll each until it ends: finely for a single run, every 0.5 s in a burst.

        A poll of a running run is a workflow query the worker answers, so eight pollers at 20 Hz
        would take CPU from the runs being measured.
        """
        interval = 0.05 if len(bodies) == 1 else 0.5
        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(self.start, bodies))
            results = list(pool.map(lambda i: self.wait(i, interval), ids))
        elapsed = time.perf_counter() - began
        failed = [r.get("error") for r in results if r.get("outcome") != "success"]
        assert not failed, failed[:3]
        return elapsed, results


def serialization(api: Api, url: str) -> None:
    body = {"task": "List the first page of permits", "startUrl": url, "reuseKey": "bench-serial"}
    api.burst([body])
    singles = [api.burst([body])[0] for _ in range(5)]
    one = statistics.median(singles)
    total, _ = api.burst([body] * 20)
    print(f"(a) one run alone: {one:.2f} s (median of 5); 20 runs of one key together: {total:.1f} s")
    print(f"    serialization overhead: {total:.1f} / (20 x {one:.2f}) = {total / (20 * one):.2f}")


def throughput(api: Api, url: str, runs: int, keys: int, label: str) -> None:
    bodies = [{"task": "List the first page", "startUrl": url, "reuseKey": f"bench-k{i % keys}"} for i in range(runs)]
    elapsed, results = api.burst(bodies)
    waits = [ts(r["startedAt"]) - ts(r["createdAt"]) for r in results]
    print(
        f"(b) {label}: {runs} runs over {keys} keys in {elapsed:.1f} s = {runs / elapsed * 60:.0f} runs/min; "
        f"queue wait p50 {statistics.median(waits):.1f} s, p95 {percentile(waits, 0.95):.1f} s"
    )


def bare(url: str, runs: int) -> None:
    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: subprocess.run([sys.executable, "-c", BARE_SCRIPT, url], check=True), range(runs)))
    elapsed = time.perf_counter() - began
    print(f"(c) bare Playwright scripts, 4 at a time: {runs} in {elapsed:.1f} s = {runs / elapsed * 60:.0f} runs/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(
        {
            "WEBTASKS_DATA_DIR": tempfile.mkdtemp(prefix="webtasks-bench-"),
            "WEBTASKS_API_PORT": str(free_port()),
            "WEBTASKS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "WEBTASKS_TEMPORAL_UI_PORT": str(free_port()),
        }
    )
    from webtasks import stack as embedded
    from webtasks.config import Settings
    from webtasks.store import get_store
    from webtasks.store.workspaces import WorkspaceStore, read_credentials

    conf = Settings()
    print(f"{os.cpu_count()} CPUs; sandbox slots kept warm per worker: {conf.warm_slots}")
    with start_site() as site:
        embedded.start(conf, detach=True)
        second_worker: subprocess.Popen[bytes] | None = None
        try:
            creds = read_credentials(conf.credentials_file)
            assert creds is not None
            WorkspaceStore(get_store()).update("local", lambda w: w.model_copy(update={"max_concurrent": args.keys}))
            api = Api(conf.base_url, creds["workspaceId"], creds["apiKey"])
            api.http.put("/automations/bench-serial", json={"code": DIRECTORY_PAGE}).raise_for_status()
            for i in range(args.keys):
                api.http.put(f"/automations/bench-k{i}", json={"code": DIRECTORY_PAGE}).raise_for_status()
            serialization(api, site.url)
            throughput(api, site.url, args.runs, args.keys, "1 worker")
            second_worker = subprocess.Popen(
                [sys.executable, "-m", "worker"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(5)  # let the second worker warm its sandbox slots before measuring
            throughput(api, site.url, args.runs, args.keys, "2 workers")
        finally:
            if second_worker is not None:
                second_worker.terminate()
                second_worker.wait(30)
            embedded.stop(conf)
        bare(site.url, args.runs)


if __name__ == "__main__":
    main()
