"""Automation code the tests save, written the way a user of the service would write it."""

from __future__ import annotations

from typing import Any

from tests.sites.data import Permit

DIRECTORY_PAGE = '''
async def run(page, params, ctx):
    """One page of the permit directory, optionally filtered by category."""
    url = f"{ctx.start_url}/directory?page={params.get('page', 1)}"
    if params.get("category"):
        url += f"&category={params['category']}"
    await ctx.goto(url)
    rows = await ctx.extract_table("table#permits")
    ctx.log("rows read", count=len(rows))
    return [
        {"id": r["ID"], "name": r["Name"], "status": r["Status"], "fee": float(r["Fee"].lstrip("$").replace(",", ""))}
        for r in rows
    ]
'''

ROW_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "name", "status", "fee"],
        "properties": {
            "id": {"type": "string", "pattern": "^P-[0-9]+$"},
            "name": {"type": "string"},
            "status": {"enum": ["Active", "Expired", "Pending"]},
            "fee": {"type": "number"},
        },
    },
}


def expected_rows(permits: list[Permit]) -> list[dict[str, Any]]:
    return [{"id": p["id"], "name": p["name"], "status": p["status"], "fee": p["fee"]} for p in permits]
