"""`python -m webtasks.demo` (what `scripts/demo` runs): one web task through the whole stack.

Starts the stack in the background if none is reachable, serves the demo site on loopback, saves the
demo automation under the reuseKey `demo-market`, runs the task with the SDK and prints the result.
"""

from __future__ import annotations

import json
import sys
from importlib import resources

from webtasks import stack
from webtasks.config import settings
from webtasks.demo.site import serve
from webtasks.sdk import Client

SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["item", "category", "price"],
        "properties": {"item": {"type": "string"}, "category": {"type": "string"}, "price": {"type": "number"}},
    },
}


def main() -> int:
    category = sys.argv[1] if len(sys.argv) > 1 else "Fruit"
    conf = settings()
    if not stack.api_ready(conf):
        print(f"starting the local stack (logs in {conf.data_dir / 'logs'}) …", file=sys.stderr)
        stack.start(conf, detach=True)
    site = serve()
    start_url = f"http://127.0.0.1:{site.server_address[1]}/"
    code = resources.files("webtasks.demo").joinpath("market_automation.py").read_text()
    with Client() as client:
        client.push_automation("demo-market", code, SCHEMA)
        result = client.run(
            "List the market prices of one category",
            start_url=start_url,
            parameters={"category": category},
            reuse_key="demo-market",
            output_schema=SCHEMA,
            poll_interval=0.5,
            timeout=300,
        )
    site.shutdown()
    print(json.dumps(result.wire(), indent=2))
    ok = result.outcome == "success"
    print(
        f"\n{'OK' if ok else 'FAILED'}: {result.web_task_id} · Temporal UI http://127.0.0.1:8233 · "
        "`webtasks down` stops the stack",
        file=sys.stderr,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
