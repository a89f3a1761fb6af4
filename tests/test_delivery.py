"""Large output comes back as a signed file with a preview; saved files come back as signed links."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import quote, unquote

import httpx

from tests.conftest import Stack
from tests.sites import Site
from tests.sites.data import REPORTS
from webtasks.store.signing import FileGrant, sign

BIG = """
async def run(page, params, ctx):
    return {"rows": [{"n": i, "text": "x" * 100} for i in range(params["count"])]}
"""


def test_large_output_is_a_signed_file_with_a_preview(stack: Stack) -> None:
    stack.push("big-output", BIG)
    result = stack.run({"task": "Make a lot of rows", "reuseKey": "big-output", "parameters": {"count": 2000}})
    assert result["outcome"] == "success", result.get("error")
    delivered = result["result"]
    assert delivered["type"] == "file"
    file = delivered["file"]
    assert file["contentType"] == "application/json"
    assert file["sizeBytes"] > 64 * 1024
    assert file["preview"]["rowCount"] == 2000
    assert file["preview"]["sample"] == [{"n": i, "text": "x" * 100} for i in range(5)]
    expires = time.strptime(file["expiresAt"], "%Y-%m-%dT%H:%M:%S.000Z")
    assert 6.9 * 86400 < time.mktime(expires) - time.mktime(time.gmtime()) < 7.1 * 86400
    downloaded = httpx.get(file["url"])
    assert downloaded.status_code == 200
    assert len(downloaded.content) == file["sizeBytes"]
    assert downloaded.json()["rows"][1999] == {"n": 1999, "text": "x" * 100}


def test_small_output_stays_inline(stack: Stack) -> None:
    stack.push("small-output", BIG)
    result = stack.run({"task": "A few rows", "reuseKey": "small-output", "parameters": {"count": 3}})
    assert result["result"]["type"] == "inline"
    assert len(result["result"]["data"]["rows"]) == 3


def test_tampered_and_expired_tokens_are_refused(stack: Stack) -> None:
    stack.push("token-output", BIG)
    result = stack.run({"task": "Rows", "reuseKey": "token-output", "parameters": {"count": 1000}})
    url = result["result"]["file"]["url"]
    token = unquote(url.rsplit("/files/", 1)[1])
    body, mac = token.split(".")
    forged_mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert httpx.get(f"{stack.base_url}/files/{quote(body + '.' + forged_mac)}").status_code == 403
    other_key = sign(b"not-the-server-secret", FileGrant("runs/x/result.json", "x.json", "application/json", 2**40))
    refused = httpx.get(f"{stack.base_url}/files/{quote(other_key)}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden" and "Traceback" not in refused.text
    assert httpx.get(f"{stack.base_url}/files/garbage").status_code == 403
    secret = (stack.data_dir / "secret.key").read_text().strip().encode()
    grant = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    expired = sign(secret, FileGrant(grant[0], grant[1], grant[2], int(time.time()) - 5))
    gone = httpx.get(f"{stack.base_url}/files/{quote(expired)}")
    assert gone.status_code == 410
    assert gone.json()["code"] == "expired"
    assert httpx.get(url).status_code == 200


SAVES_FILES = """
async def run(page, params, ctx):
    report = await ctx.save_file(params["text"].encode(), file_name="report.txt")
    fetched = await ctx.save_file(ctx.start_url + "/table", file_name="fees.html")
    attachment = await ctx.save_file(ctx.start_url + "/reports/" + params["report"] + ".csv")
    return {"files": [report, fetched, attachment]}
"""


def test_saved_files_are_stored_and_returned_as_signed_links(stack: Stack, site: Site) -> None:
    stack.push("saves-files", SAVES_FILES)
    text = "quarterly numbers\n" * 10
    csv = REPORTS[0]
    result = stack.run(
        {
            "task": "Save files",
            "reuseKey": "saves-files",
            "startUrl": site.url,
            "parameters": {"text": text, "report": csv["slug"]},
        }
    )
    assert result["outcome"] == "success", result.get("error")
    report, fetched, attachment = result["result"]["data"]["files"]
    assert report["fileName"] == "report.txt" and report["contentType"] == "text/plain"
    assert report["sizeBytes"] == len(text.encode())
    assert report["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert report["fileId"].startswith("file_") and report["expiresAt"]
    download = httpx.get(report["url"])
    assert download.status_code == 200 and download.text == text
    assert (
        "attachment" in download.headers["content-disposition"]
        and "report.txt" in download.headers["content-disposition"]
    )
    page = httpx.get(fetched["url"])
    assert page.status_code == 200 and "fees" in page.text
    assert fetched["contentType"] == "text/html"
    assert hashlib.sha256(page.content).hexdigest() == fetched["sha256"]
    assert attachment["fileName"] == f"{csv['slug']}.csv", "a download keeps the name the server suggested"
    assert httpx.get(attachment["url"]).text == csv["csv"]
