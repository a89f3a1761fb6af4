"""The demo automation: read the price board, optionally filtered by `params["category"]`."""


async def run(page, params, ctx):
    url = ctx.start_url
    if params.get("category"):
        url += f"?category={params['category']}"
    await ctx.goto(url)
    rows = await ctx.extract_table("table#prices")
    ctx.log("rows read", count=len(rows))
    return [{"item": r["Item"], "category": r["Category"], "price": float(r["Price"].lstrip("$"))} for r in rows]
