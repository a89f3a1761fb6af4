"""Browser defaults: the run's proxy is used (with its credentials), stealth is on."""

from __future__ import annotations

from tests.automations import DIRECTORY_PAGE, expected_rows
from tests.conftest import Stack
from tests.sites import Site
from tests.sites.data import page_of
from tests.sites.proxy import Proxy


def test_the_runs_proxy_carries_the_browsers_traffic(stack: Stack, site: Site) -> None:
    stack.push("via-proxy", DIRECTORY_PAGE)
    with Proxy(site.url, alias="permits.example", username="scraper", password="s3cret:pw") as proxy:
        url = proxy.url.replace("s3cret:pw", "s3cret%3Apw")
        result = stack.run(
            {"task": "List permits", "startUrl": "http://permits.example", "reuseKey": "via-proxy", "proxy": url}
        )
        assert result["outcome"] == "success", result.get("error")
        assert result["result"]["data"] == expected_rows(page_of(1))
        assert "http://permits.example/directory?page=1" in proxy.seen
    direct = stack.run(
        {"task": "List permits [cannot-fix]", "startUrl": "http://permits.example", "reuseKey": "via-proxy"}
    )
    assert direct["outcome"] == "failed", "without the proxy the made-up host must not resolve"
    assert "ERR_NAME_NOT_RESOLVED" in direct["attempts"][0]["error"]["message"]


def test_stealth_defaults(stack: Stack, site: Site) -> None:
    code = """
async def run(page, params, ctx):
    await ctx.goto(ctx.start_url + "/")
    return await page.evaluate('''() => ({webdriver: navigator.webdriver, languages: navigator.languages,
        ua: navigator.userAgent, width: window.innerWidth, height: window.innerHeight})''')
"""
    stack.push("stealth", code)
    data = stack.run({"task": "Fingerprint", "startUrl": site.url, "reuseKey": "stealth"})["result"]["data"]
    assert not data["webdriver"]
    assert data["languages"][0] == "en-US"
    assert "Headless" not in data["ua"] and "Chrome/" in data["ua"]
    assert (data["width"], data["height"]) == (1280, 800)


HELPERS = '''
PAGE = """
<button id="more">Load more</button><ul id="items"></ul><div id="feed" style="height:900px"></div>
<script>
  let shown = 0;
  const more = document.getElementById('more');
  more.onclick = () => {
    for (let i = 0; i < 5; i++) { const li = document.createElement('li'); li.textContent = 'item ' + (++shown);
      document.getElementById('items').appendChild(li); }
    if (shown >= 15) more.remove();
  };
  let grown = 0;
  window.addEventListener('scroll', () => {
    if (grown < 3 && window.innerHeight + window.scrollY >= document.body.scrollHeight - 5) {
      grown++; const block = document.createElement('div'); block.style.height = '900px';
      block.className = 'block'; document.body.appendChild(block);
    }
  });
</script>
"""

async def run(page, params, ctx):
    await page.set_content(PAGE)
    clicks = await ctx.click_until_exhausted("#more", max_clicks=10)
    items = await page.locator("#items li").count()
    grew = await ctx.scroll_to_load(max_scrolls=10, pause_ms=200)
    blocks = await page.locator(".block").count()
    return {"clicks": clicks, "items": items, "grew": grew, "blocks": blocks, "remaining": ctx.remaining(),
            "runId": ctx.run_id}
'''


def test_load_more_and_infinite_scroll_helpers(stack: Stack) -> None:
    stack.push("helpers", HELPERS)
    result = stack.run({"task": "Load everything", "reuseKey": "helpers", "timeoutSeconds": 120})
    assert result["outcome"] == "success", result.get("error")
    data = result["result"]["data"]
    assert (data["clicks"], data["items"]) == (3, 15)
    assert (data["grew"], data["blocks"]) == (3, 3)
    assert 0 < data["remaining"] <= 120
    assert data["runId"] == result["webTaskId"]
