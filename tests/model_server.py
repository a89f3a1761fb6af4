"""A scripted Messages-API server on loopback, answered through the real `anthropic` SDK.

It plays the authoring model from the conversation alone: the task text picks the kind of task, the
tool results it gets back (page snapshots, submission errors) pick its next move. It reports realistic
`usage`, records every request, and can be told to fail (401, 429, 529, …) the next requests.

Markers in a task's text script its behaviour: `[broken-first]` submits broken code once before the
good code, `[always-broken]` never submits working code, `[cannot-fix]` resubmits the failing code of a
repair verbatim (a model that cannot find the problem), `[no-tool-first]` answers once without a tool.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import automations

SERVER_KEY = "sk-ant-planted-0123456789abcdef"


@dataclass
class Recorded:
    api_key: str
    task: str
    body: dict[str, Any]
    usage: dict[str, int] = field(default_factory=dict)
    status: int = 200


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_text(block.get("content")))
    return "\n".join(parts)


class ScriptedModel:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.accepted_keys = {SERVER_KEY}
        self._failures: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()

    def fail_next(self, status: int, count: int = 1, error_type: str | None = None) -> None:
        kinds = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error", 500: "api_error"}
        with self._lock:
            for _ in range(count):
                self._failures.append((status, error_type or kinds.get(status, "api_error")))

    def requests_for(self, marker: str) -> list[Recorded]:
        return [r for r in self.requests if marker in r.task]

    def answer(self, api_key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages") or []
        task = _text(messages[0]["content"]) if messages else ""
        record = Recorded(api_key=api_key, task=task, body=body)
        with self._lock:
            self.requests.append(record)
            failure = self._failures.popleft() if self._failures else None
        if api_key not in self.accepted_keys:
            failure = (401, "authentication_error")
        if failure is not None:
            record.status = failure[0]
            return failure[0], {"type": "error", "error": {"type": failure[1], "message": f"scripted {failure[1]}"}}
        content = self._decide(task, messages)
        record.usage = self._usage(body, content)
        tool_call = any(block["type"] == "tool_use" for block in content)
        return 200, {
            "id": f"msg_{secrets.token_hex(12)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": "tool_use" if tool_call else "end_turn",
            "stop_sequence": None,
            "usage": record.usage,
        }

    @staticmethod
    def _usage(body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        """About four characters a token, with the cached prefix (system + tools) written once, then read."""
        prefix = len(json.dumps(body.get("system"))) + len(json.dumps(body.get("tools")))
        first_turn = len(body.get("messages") or []) == 1
        return {
            "input_tokens": len(json.dumps(body.get("messages"))) // 4,
            "output_tokens": max(1, len(json.dumps(content)) // 4),
            "cache_creation_input_tokens": prefix // 4 if first_turn else 0,
            "cache_read_input_tokens": 0 if first_turn else prefix // 4,
        }

    def _decide(self, task: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        turns = [m for m in messages if m["role"] == "assistant"]
        submissions = sum(
            1
            for m in turns
            for block in m["content"]
            if block.get("type") == "tool_use" and block["name"] == "submit_automation"
        )
        last = _text(messages[-1]["content"]) if messages else ""
        if "poem" in task.lower():
            return _tool("reject_task", {"reason": "Writing a poem is not a web automation task."})
        if "[no-tool-first]" in task and not turns:
            return [{"type": "text", "text": "I will look at the site first."}]
        if not any(
            block.get("type") == "tool_use" and block["name"] == "navigate" for m in turns for block in m["content"]
        ):
            return _tool("navigate", {"url": _start_path(task)}, "Let me look at the page.")
        broken = "[always-broken]" in task or ("[broken-first]" in task and submissions == 0)
        code, schema = (automations.BROKEN_SUBMISSION, None) if broken else _code_for(task, last)
        if "[cannot-fix]" in task and "```python\n" in task:
            code, schema = task.split("```python\n", 1)[1].split("\n```", 1)[0], {}
        submission: dict[str, Any] = {"code": code, "notes": "scripted"}
        if "Output schema: none given" in task:
            submission["output_schema"] = schema or {"type": "array"}
        return _tool("submit_automation", submission, "Here is the automation.")


def _tool(name: str, tool_input: dict[str, Any], text: str | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks.append({"type": "tool_use", "id": f"toolu_{secrets.token_hex(10)}", "name": name, "input": tool_input})
    return blocks


def _start_path(task: str) -> str:
    lowered = task.lower()
    if "renew" in lowered:
        return "/renew"
    if "report" in lowered:
        return "/reports"
    if "live" in lowered or "load more" in lowered:
        return "/live"
    return "/directory"


def _code_for(task: str, seen: str) -> tuple[str, dict[str, Any] | None]:
    if "[hold]" in task:
        return automations.HOLD, {"type": "object", "required": ["start", "end"]}
    path = _start_path(task)
    if path == "/renew":
        return automations.RENEWAL_FORM, {"type": "object"}
    if path == "/reports":
        return automations.DOWNLOAD_REPORTS, {"type": "array"}
    if path == "/live":
        return automations.LIVE_TABLE, {"type": "array"}
    if "permit-card" in seen:
        return automations.DIRECTORY_ALL_B, automations.DIRECTORY_ALL_SCHEMA
    return automations.DIRECTORY_ALL_A, automations.DIRECTORY_ALL_SCHEMA


class ModelServer:
    """The scripted model on 127.0.0.1; `url` goes into ANTHROPIC_BASE_URL."""

    def __init__(self) -> None:
        self.model = ScriptedModel()
        model = self.model

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0] != "/v1/messages":
                    self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
                    return
                bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
                status, answer = model.answer(self.headers.get("x-api-key") or bearer, body)
                self._send(status, answer)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", f"req_{secrets.token_hex(8)}")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
