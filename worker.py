"""The Webtasks worker: hosts `WebTaskWorkflow` and its activities, and owns the sandbox pool.

python worker.py          # connects to WEBTASKS_TEMPORAL_ADDRESS (default 127.0.0.1:7233)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from activities.author import AuthorActivities
from activities.code import load_code, save_revision
from activities.credits import charge_credits, check_credits
from activities.execute import ExecuteActivities
from activities.lane import check_workflow, release_slot, request_key, request_slot
from activities.results import persist_result
from activities.screen import screen_request
from activities.validate import validate_output
from webtasks import telemetry
from webtasks.config import settings
from webtasks.sandbox.pool import SandboxPool
from webtasks.temporal import connect
from workflows.lane import KeyLaneWorkflow
from workflows.web_task import WebTaskWorkflow
from workflows.workspace import WorkspaceWorkflow

log = logging.getLogger("webtasks.worker")


async def run_worker(stop: asyncio.Event | None = None) -> None:
    conf = settings()
    client = await connect(conf, runtime=telemetry.runtime())
    pool = SandboxPool(conf)
    await pool.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with ThreadPoolExecutor(max_workers=32) as executor:
            worker = Worker(
                client,
                task_queue=conf.task_queue,
                workflows=[WebTaskWorkflow, KeyLaneWorkflow, WorkspaceWorkflow],
                activities=[
                    screen_request,
                    load_code,
                    ExecuteActivities(pool).execute_automation,
                    AuthorActivities(pool).author_automation,
                    check_credits,
                    charge_credits,
                    request_key,
                    request_slot,
                    release_slot,
                    check_workflow,
                    validate_output,
                    persist_result,
                    save_revision,
                ],
                activity_executor=executor,
                max_concurrent_activities=32,
            )
            async with worker:
                log.info("worker ready on task queue %s at %s", conf.task_queue, conf.temporal_address)
                await stop.wait()
    finally:
        await pool.close()
        telemetry.shutdown()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker())
