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


# ---------------------------------------------------------------- code the scripted model "writes"

DIRECTORY_ALL_A = '''
async def run(page, params, ctx):
    """Every permit of a category across all pages, with the phone number from its detail page."""
    url = f"{ctx.start_url}/directory?category={params.get('category', '')}"
    permits = []
    while url:
        await ctx.goto(url)
        await page.locator("table#permits").wait_for(timeout=3000)
        for row in await ctx.extract_table("table#permits"):
            permits.append({"id": row["ID"], "name": row["Name"], "status": row["Status"],
                            "fee": float(row["Fee"].lstrip("$"))})
        nxt = page.locator("nav.pagination a[rel=next]")
        url = await nxt.get_attribute("href") if await nxt.count() else None
        url = f"{ctx.start_url}{url}" if url else None
    for permit in permits:
        await ctx.goto(f"{ctx.start_url}/directory/{permit['id']}")
        permit["phone"] = (await page.locator("dl.details dt:text-is('Phone') + dd").inner_text()).strip()
    return permits
'''

DIRECTORY_ALL_B = '''
async def run(page, params, ctx):
    """The same data from the card layout."""
    url = f"{ctx.start_url}/directory?category={params.get('category', '')}"
    permits = []
    while url:
        await ctx.goto(url)
        for card in await page.locator("div.permit-card").all():
            async def field(label):
                return (await card.locator(f"dt:text-is('{label}') + dd").inner_text()).strip()
            permits.append({"id": await field("Permit no."), "name": (await card.locator("h3").inner_text()).strip(),
                            "status": await field("State"), "fee": float((await field("Amount")).lstrip("$"))})
        nxt = page.locator("li.pager__item--next a")
        url = await nxt.get_attribute("href") if await nxt.count() else None
        url = f"{ctx.start_url}{url}" if url else None
    for permit in permits:
        await ctx.goto(f"{ctx.start_url}/directory/{permit['id']}")
        phone = page.locator(".field:has(.field-label:text-is('Phone')) .field-value")
        permit["phone"] = (await phone.inner_text()).strip()
    return permits
'''

DIRECTORY_ALL_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "name", "status", "fee", "phone"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string"},
            "fee": {"type": "number"},
            "phone": {"type": "string"},
        },
    },
}

RENEWAL_FORM = '''
async def run(page, params, ctx):
    """Fill the three-step renewal form from params and return the confirmation number."""
    await ctx.goto(f"{ctx.start_url}/renew")
    await page.get_by_label("Permit ID").fill(params["permit_id"])
    await page.get_by_label("Owner name").fill(params["owner_name"])
    await page.get_by_role("button", name="Next").click()
    await page.get_by_label("Email").fill(params["email"])
    await page.get_by_label("Phone").fill(params["phone"])
    await page.get_by_label("Renewal period").select_option(str(params["years"]))
    await page.get_by_role("button", name="Next").click()
    errors = await page.locator("p.error").all_inner_texts()
    if errors:
        raise ValueError("the form refused the input: " + "; ".join(errors))
    fee = (await page.locator("#renewal-fee").inner_text()).strip()
    await page.get_by_label("I confirm the details are correct").check()
    await page.get_by_role("button", name="Submit renewal").click()
    confirmation = (await page.locator("#confirmation").inner_text()).strip()
    return {"permitId": params["permit_id"], "confirmation": confirmation, "fee": float(fee.lstrip("$"))}
'''

DOWNLOAD_REPORTS = '''
async def run(page, params, ctx):
    """Download every report of the requested year."""
    await ctx.goto(f"{ctx.start_url}/reports?year={params['year']}")
    saved = []
    for row in await page.locator("table#reports tr[data-slug]").all():
        title = (await row.locator("td").first.inner_text()).strip()
        async with page.expect_download() as info:
            await row.get_by_role("link", name="Download").click()
        saved.append({"title": title, "file": await ctx.save_file(await info.value)})
    return saved
'''

LIVE_TABLE = '''
async def run(page, params, ctx):
    """All rows of the JavaScript-rendered table, loading more until the button is gone."""
    await ctx.goto(f"{ctx.start_url}/live")
    await page.locator("#live-permits tr[data-permit-id]").first.wait_for()
    await ctx.click_until_exhausted("#load-more", max_clicks=20)
    rows = await ctx.extract_table("#live-permits")
    return [{"id": r["ID"], "name": r["Name"], "status": r["Status"], "fee": float(r["Fee"].lstrip("$"))} for r in rows]
'''

BROKEN_SUBMISSION = """
async def run(page, params, ctx):
    await ctx.goto(ctx.start_url + "/directory")
    await page.locator("table#no-such-table").wait_for(timeout=2000)
    return await ctx.extract_table("table#no-such-table")
"""

HOLD = """
import asyncio, time

async def run(page, params, ctx):
    start = time.time()
    await asyncio.sleep(params.get("hold", 3))
    return {"start": start, "end": time.time()}
"""
