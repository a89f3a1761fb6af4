"""The CLI's automation commands and the local `try` loop."""

from __future__ import annotations

import json
from pathlib import Path

from tests.automations import DIRECTORY_PAGE, ROW_SCHEMA, expected_rows
from tests.conftest import Stack
from tests.sites import Site
from tests.sites.data import filtered, page_of


def test_push_show_list_and_rollback(stack: Stack, site: Site, tmp_path: Path) -> None:
    v1 = tmp_path / "v1.py"
    v1.write_text(DIRECTORY_PAGE)
    v2 = tmp_path / "v2.py"
    v2.write_text("async def run(page, params, ctx):\n    return {'version': 2}\n")
    assert stack.cli("automations", "push", "cli-key", str(v1)).returncode == 0
    with stack.http() as http:
        first = http.get("/automations/cli-key").json()["current"]["revisionId"]
    assert stack.cli("automations", "push", "cli-key", str(v2)).returncode == 0
    shown = stack.cli("automations", "show", "cli-key", "--code")
    assert shown.returncode == 0 and shown.stdout == v2.read_text()
    listed = stack.cli("automations", "list")
    assert listed.returncode == 0 and "cli-key" in listed.stdout
    assert stack.run({"task": "t", "reuseKey": "cli-key"})["result"]["data"] == {"version": 2}
    rolled = stack.cli("automations", "rollback", "cli-key", first)
    assert rolled.returncode == 0, rolled.stderr
    result = stack.run({"task": "t", "reuseKey": "cli-key", "startUrl": site.url})
    assert result["result"]["data"] == expected_rows(page_of(1))
    assert result["reuse"]["revision_id"] == first


def test_push_refuses_code_that_cannot_run(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("print('no entry point')\n")
    pushed = stack.cli("automations", "push", "cli-bad", str(bad))
    assert pushed.returncode != 0
    assert "async def run" in pushed.stderr
    assert "Traceback" not in pushed.stderr


def test_try_runs_code_locally_and_validates(stack: Stack, site: Site, tmp_path: Path) -> None:
    code = tmp_path / "dir.py"
    code.write_text(DIRECTORY_PAGE)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(ROW_SCHEMA))
    tried = stack.cli("automations", "try", str(code), "--start-url", site.url, "--param", "category=Construction",
                      "--schema", str(schema))  # fmt: skip
    assert tried.returncode == 0, tried.stderr
    assert json.loads(tried.stdout) == expected_rows(page_of(1, filtered(category="Construction")))
    assert "schema valid" in tried.stderr and "rows read" in tried.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"type": "object"}))
    invalid = stack.cli("automations", "try", str(code), "--start-url", site.url, "--schema", str(wrong))
    assert invalid.returncode == 1
    assert "does not match" in invalid.stderr


def test_try_shows_the_traceback_of_failing_code(stack: Stack, site: Site, tmp_path: Path) -> None:
    code = tmp_path / "fails.py"
    code.write_text("async def run(page, params, ctx):\n    raise ValueError('no such permit: ' + params['id'])\n")
    tried = stack.cli("automations", "try", str(code), "--param", "id=P-9")
    assert tried.returncode == 1
    assert "no such permit: P-9" in tried.stderr and 'File "automation.py", line 2' in tried.stderr


def test_bad_param_syntax_is_a_clear_error(stack: Stack) -> None:
    ran = stack.cli("run", "a task", "--param", "novalue")
    assert ran.returncode != 0 and "name=value" in ran.stderr


def test_workspace_commands(stack: Stack) -> None:
    created = stack.cli("workspace", "create", "cli-team", "--max-concurrent", "3")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("wtk_")
    listed = stack.cli("workspace", "list")
    assert "cli-team" in listed.stdout and "local" in listed.stdout
    assert "1 key" in stack.cli("workspace", "keys", "cli-team").stdout
    assert stack.cli("workspace", "create", "cli-team").returncode != 0


def test_replay_a_finished_run(stack: Stack) -> None:
    stack.push("cli-replay", "async def run(page, params, ctx):\n    return 1\n")
    finished = stack.run({"task": "t", "reuseKey": "cli-replay"})
    replayed = stack.cli("replay", finished["webTaskId"])
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed" in replayed.stdout
    lane = stack.cli("replay", f"lane:{stack.workspace_id}:cli-replay")
    assert lane.returncode == 0 and "replayed" in lane.stdout, lane.stderr
    missing = stack.cli("replay", "wt_missing")
    assert missing.returncode == 1 and "wt_missing" in missing.stderr
