"""The `webtasks` command line: run tasks, manage saved automations, workspaces and the local stack."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from webtasks import stack
from webtasks.automation import InvalidCode
from webtasks.config import settings
from webtasks.models import ModelName, StartRequest, WebTaskResult
from webtasks.sdk import Client, WebtasksError

app = typer.Typer(help="Web tasks in plain English, done in a real browser.", no_args_is_help=True)
automations = typer.Typer(help="Saved automation code, by reuseKey.", no_args_is_help=True)
workspace = typer.Typer(help="Workspaces and their API keys (run on the server's machine).", no_args_is_help=True)
credits = typer.Typer(help="A workspace's AI credit balance in USD.", no_args_is_help=True)
app.add_typer(automations, name="automations")
app.add_typer(workspace, name="workspace")
workspace.add_typer(credits, name="credits")

out = Console()
err = Console(stderr=True)
MODELS: tuple[ModelName, ...] = ("haiku", "sonnet", "opus")

ParamOption = Annotated[list[str] | None, typer.Option("--param", "-p", help="k=v; v is parsed as JSON when it can be")]
StartUrlOption = Annotated[str | None, typer.Option("--start-url", help="Where the task begins")]
SchemaOption = Annotated[Path | None, typer.Option("--schema", help="JSON Schema file the output must match")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _params(pairs: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise _fail(f"--param {pair!r} must look like name=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _schema(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the schema {path}: {exc}") from None


def _model(name: str) -> ModelName:
    for known in MODELS:
        if name == known:
            return known
    raise _fail(f"--model must be one of {', '.join(MODELS)}")


def _client() -> Client:
    try:
        return Client()
    except WebtasksError as exc:
        raise _fail(str(exc)) from None


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _ensure_stack() -> None:
    conf = settings()
    if stack.api_ready(conf):
        return
    err.print(f"[dim]starting the local stack in the background (logs in {conf.data_dir / 'logs'})…[/dim]")
    try:
        stack.start(conf, detach=True)
    except stack.StackError as exc:
        raise _fail(str(exc)) from None


# ---------------------------------------------------------------- runs


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What to do, in plain English")],
    start_url: StartUrlOption = None,
    param: ParamOption = None,
    reuse_key: Annotated[str | None, typer.Option("--reuse-key", help="Saved automation to use (and keep)")] = None,
    schema: SchemaOption = None,
    model: Annotated[str, typer.Option(help="haiku, sonnet or opus")] = "haiku",
    timeout: Annotated[int, typer.Option("--timeout", help="Run deadline in seconds")] = 1800,
    poll: Annotated[float, typer.Option(help="Seconds between status checks")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result object")] = False,
) -> None:
    """Run a task (starting the local stack if none is reachable) and print its result."""
    try:
        request = StartRequest(
            task=task,
            start_url=start_url,
            parameters=_params(param) or None,
            output_schema=_schema(schema),
            reuse_key=reuse_key,
            model=_model(model),
            timeout_seconds=timeout,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _ensure_stack()
    with _client() as client:
        try:
            started = client.start(request)
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
        err.print(f"[bold]{started.web_task_id}[/bold] reuseKey [cyan]{started.reuse.key}[/cyan]")
        result = _follow(client, started.web_task_id, poll)
    _report(result, as_json)


def _follow(client: Client, web_task_id: str, poll: float) -> WebTaskResult:
    last = ""
    began = time.monotonic()
    with err.status("pending…") as status:
        while True:
            result = client.result(web_task_id)
            label = result.status + (f" (queue position {result.queue_position})" if result.queue_position else "")
            if label != last:
                last = label
            status.update(f"{label} · {time.monotonic() - began:.1f}s")
            if result.status in ("completed", "canceled"):
                return result
            time.sleep(poll)


def _report(result: WebTaskResult, as_json: bool) -> None:
    if as_json:
        _print_json(result.wire())
    elif result.status == "canceled":
        err.print("[yellow]canceled[/yellow]")
    elif result.outcome == "success" and result.result is not None:
        reuse = result.reuse
        err.print(
            f"[green]completed[/green] · revision {reuse.revision_id if reuse else '-'}"
            f" · reused {reuse.used if reuse else False} · AI ${result.cost.ai_usd if result.cost else 0:.4f}"
        )
        if result.result.type == "inline":
            _print_json(result.result.data)
        else:
            file = result.result.file
            err.print(f"output is {file.size_bytes} bytes; download: {file.url}")
            if file.preview:
                _print_json(file.preview.wire())
    else:
        error = result.error
        err.print(f"[red]failed[/red] · {error.code if error else '?'}: {error.message if error else ''}")
        if error and error.details:
            _print_json(error.details)
    if result.status != "completed" or result.outcome != "success":
        raise typer.Exit(1)


@app.command()
def result(
    web_task_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print the whole result object")] = True
) -> None:
    """Show a run's status and result."""
    with _client() as client:
        try:
            current = client.result(web_task_id)
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
    _print_json(current.wire())


@app.command()
def cancel(web_task_id: str) -> None:
    """Cancel a pending or started run."""
    with _client() as client:
        try:
            _print_json(client.cancel(web_task_id))
        except WebtasksError as exc:
            raise _fail(str(exc)) from None


@app.command()
def replay(workflow_id: str) -> None:
    """Fetch a workflow's history from Temporal and replay it against this checkout's workflow code.

    A run (`wt_…`), a key's lane (`lane:WORKSPACE:KEY`) or a workspace entity (`workspace:ID`). Set
    breakpoints in `workflows/` and run this under a debugger to step through it.
    """
    from temporalio.worker import Replayer

    from webtasks.temporal import connect
    from workflows.lane import KeyLaneWorkflow
    from workflows.web_task import WebTaskWorkflow
    from workflows.workspace import WorkspaceWorkflow

    async def go() -> None:
        client = await connect()
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        replayer = Replayer(
            workflows=[WebTaskWorkflow, KeyLaneWorkflow, WorkspaceWorkflow],
            data_converter=client.data_converter,
            debug_mode=True,
        )
        await replayer.replay_workflow(history)

    try:
        asyncio.run(go())
    except Exception as exc:
        raise _fail(f"replay of {workflow_id} failed: {exc}") from None
    out.print(f"[green]replayed[/green] {workflow_id}: the history matches this workflow code")


# ---------------------------------------------------------------- automations


@automations.command("push")
def automations_push(reuse_key: str, file: Path, schema: SchemaOption = None) -> None:
    """Save your own code as the key's new current revision."""
    try:
        code = file.read_text()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    with _client() as client:
        try:
            revision = client.push_automation(reuse_key, code, _schema(schema))
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
    out.print(f"saved [cyan]{reuse_key}[/cyan] revision [bold]{revision.revision_id}[/bold]")


@automations.command("show")
def automations_show(
    reuse_key: str, code_only: Annotated[bool, typer.Option("--code", help="Print only the code")] = False
) -> None:
    """Show the current revision and the list of revisions."""
    with _client() as client:
        try:
            detail = client.automation(reuse_key)
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
    if code_only:
        sys.stdout.write(detail.current.code)
        return
    out.print(f"[cyan]{reuse_key}[/cyan] current revision [bold]{detail.current.revision_id}[/bold]")
    table = Table("revision", "created", "source", "model", "run")
    for rev in detail.revisions:
        marker = " *" if rev.revision_id == detail.current.revision_id else ""
        table.add_row(rev.revision_id + marker, str(rev.created_at), rev.source, rev.model or "", rev.web_task_id or "")
    out.print(table)
    out.print(detail.current.code)


@automations.command("list")
def automations_list() -> None:
    """List saved automations."""
    with _client() as client:
        try:
            listing = client.automations()
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
    table = Table("reuseKey", "current revision", "saved", "revisions", "last run")
    for item in listing.items:
        last = (item.last_run or {}).get("webTaskId", "")
        table.add_row(
            item.reuse_key, item.current_revision_id, str(item.revision_timestamp), str(item.revision_count), last
        )
    out.print(table)


@automations.command("rollback")
def automations_rollback(reuse_key: str, revision_id: str) -> None:
    """Make an older revision current again."""
    with _client() as client:
        try:
            revision = client.rollback(reuse_key, revision_id)
        except WebtasksError as exc:
            raise _fail(str(exc)) from None
    out.print(f"[cyan]{reuse_key}[/cyan] is back at revision [bold]{revision.revision_id}[/bold]")


@automations.command("try")
def automations_try(
    file: Path,
    start_url: StartUrlOption = None,
    param: ParamOption = None,
    schema: SchemaOption = None,
    headed: Annotated[bool, typer.Option(help="Show the browser window (needs a display)")] = False,
    timeout: Annotated[int, typer.Option("--timeout", help="Wall-clock limit in seconds")] = 300,
) -> None:
    """Run a code file once in the sandbox, without Temporal, and print its output and validation."""
    from webtasks.sandbox.trial import try_code

    try:
        code = file.read_text()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    conf = dataclasses.replace(settings(), warm_slots=0)
    try:
        trial = asyncio.run(
            try_code(
                code,
                start_url=start_url,
                params=_params(param),
                output_schema=_schema(schema),
                timeout_seconds=timeout,
                headed=headed,
                conf=conf,
            )
        )
    except InvalidCode as exc:
        raise _fail(str(exc)) from None
    for line in trial.log:
        fields = {k: v for k, v in line.items() if k not in ("t", "message")}
        err.print(f"[dim]log[/dim] {line.get('message', '')} {json.dumps(fields) if fields else ''}")
    if trial.error:
        err.print(f"[red]failed[/red] after {trial.seconds:.1f}s at {trial.url}: {trial.error.get('message')}")
        if trial.error.get("traceback"):
            err.print(trial.error["traceback"])
        raise typer.Exit(1)
    _print_json(trial.output)
    if trial.validation_errors:
        err.print("[red]output does not match the schema:[/red]")
        for problem in trial.validation_errors:
            err.print(f"  {problem}")
        raise typer.Exit(1)
    err.print(f"[green]ok[/green] in {trial.seconds:.1f}s" + (" · schema valid" if schema else ""))


# ---------------------------------------------------------------- workspaces


def _workspaces() -> Any:
    from webtasks.store import get_store
    from webtasks.store.workspaces import WorkspaceStore

    return WorkspaceStore(get_store())


@workspace.command("create")
def workspace_create(
    workspace_id: str,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    max_concurrent: Annotated[int, typer.Option("--max-concurrent")] = 10,
    allow_private_network: Annotated[bool, typer.Option("--allow-private-network/--deny-private-network")] = False,
) -> None:
    """Create a workspace and print its first API key (shown once)."""
    try:
        created, api_key = _workspaces().create(
            workspace_id, name=name, max_concurrent=max_concurrent, allow_private_network=allow_private_network
        )
    except (FileExistsError, ValueError) as exc:
        raise _fail(str(exc).splitlines()[0]) from None
    out.print(f"workspace [cyan]{created.id}[/cyan] created; API key (keep it, it is not shown again):")
    out.print(api_key)


@workspace.command("list")
def workspace_list() -> None:
    """List workspaces and their settings."""
    table = Table("id", "name", "maxConcurrent", "privateNetwork", "keys", "credits (USD)")
    for item in _workspaces().list():
        table.add_row(
            item.id, item.name, str(item.max_concurrent), str(item.allow_private_network),
            str(len(item.api_key_hashes)), f"{item.credits_usd:.2f}",
        )  # fmt: skip
    out.print(table)


@workspace.command("keys")
def workspace_keys(
    workspace_id: str, new: Annotated[bool, typer.Option("--new", help="Create another API key")] = False
) -> None:
    """Show how many keys a workspace has, or create a new one with --new."""
    store = _workspaces()
    found = store.get(workspace_id)
    if found is None:
        raise _fail(f"no workspace {workspace_id!r}")
    if new:
        out.print(store.add_key(workspace_id))
        return
    out.print(f"{workspace_id} has {len(found.api_key_hashes)} key(s); keys are stored hashed, create one with --new")


@workspace.command("set")
def workspace_set(
    workspace_id: str,
    max_concurrent: Annotated[int | None, typer.Option("--max-concurrent", min=1)] = None,
    queue_on_limit: Annotated[bool | None, typer.Option("--queue-on-limit/--fail-on-limit")] = None,
    allow_private_network: Annotated[
        bool | None, typer.Option("--allow-private-network/--deny-private-network")
    ] = None,
    queue_wait_limit: Annotated[int | None, typer.Option("--queue-wait-limit", min=1, help="Seconds")] = None,
) -> None:
    """Change a workspace's settings."""
    changes = {
        key: value
        for key, value in {
            "max_concurrent": max_concurrent,
            "queue_on_limit": queue_on_limit,
            "allow_private_network": allow_private_network,
            "queue_wait_limit_seconds": queue_wait_limit,
        }.items()
        if value is not None
    }
    store = _workspaces()
    if store.get(workspace_id) is None:
        raise _fail(f"no workspace {workspace_id!r}")
    updated = store.update(workspace_id, lambda w: w.model_copy(update=changes))
    _print_json(updated.public())


@credits.command("show")
def credits_show(workspace_id: str) -> None:
    """Show the credit balance."""
    found = _workspaces().get(workspace_id)
    if found is None:
        raise _fail(f"no workspace {workspace_id!r}")
    out.print(f"{workspace_id}: ${found.credits_usd:.4f}")


@credits.command("add")
def credits_add(workspace_id: str, usd: float) -> None:
    """Add credits (a negative amount takes them away)."""
    store = _workspaces()
    if store.get(workspace_id) is None:
        raise _fail(f"no workspace {workspace_id!r}")
    out.print(f"{workspace_id}: ${store.add_credits(workspace_id, usd).credits_usd:.4f}")


# ---------------------------------------------------------------- the local stack


@app.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start in the background and return")] = False,
) -> None:
    """Start the embedded stack: Temporal dev server, worker and API."""
    conf = settings()
    try:
        started = stack.start(conf, detach=detach)
    except stack.StackError as exc:
        raise _fail(str(exc)) from None
    for name, state in stack.status(conf).items():
        out.print(f"{name:9} {state}")
    if detach or not started:
        return
    out.print("[dim]Ctrl-C stops the stack[/dim]")
    try:
        while all(process.poll() is None for process in started):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop(conf)


@app.command()
def down() -> None:
    """Stop the embedded stack started from this data directory."""
    stopped = stack.stop()
    out.print("stopped " + ", ".join(stopped) if stopped else "nothing was running")


@app.command()
def status() -> None:
    """Show whether Temporal, the worker and the API are up."""
    for name, state in stack.status().items():
        out.print(f"{name:9} {state}")


@app.command()
def api() -> None:
    """Run only the API server in the foreground."""
    import uvicorn

    conf = settings()
    uvicorn.run("webtasks.api:app", host=conf.api_host, port=conf.api_port)


@app.command()
def worker() -> None:
    """Run only a worker in the foreground."""
    import logging

    from worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker())


if __name__ == "__main__":
    app()
