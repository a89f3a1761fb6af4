"""Layout-independent pages: the report downloads (/reports) and the script-rendered table (/live)."""

from __future__ import annotations

from html import escape

from .data import REPORT_YEARS, Report
from .markup import document

LIVE_PAGE_SIZE = 10


def reports(rows: list[Report], year: int | None) -> str:
    options = ['<option value="">All years</option>']
    for y in REPORT_YEARS:
        mark = " selected" if y == year else ""
        options.append(f'<option value="{y}"{mark}>{y}</option>')
    body_rows = "".join(
        f'<tr data-slug="{escape(r["slug"])}"><td>{escape(r["title"])}</td><td>{r["year"]}</td>'
        f'<td><a href="/reports/{escape(r["slug"])}.csv" download>Download</a></td></tr>'
        for r in rows
    )
    empty = "" if rows else f'<p class="empty">No reports for {year}.</p>\n'
    body = (
        "<h1>Reports</h1>\n"
        '<form id="report-filter" method="get" action="/reports">'
        f'<label for="year">Year</label> <select id="year" name="year">{"".join(options)}</select> '
        '<button type="submit">Show</button></form>\n'
        '<table id="reports"><thead><tr><th>Title</th><th>Year</th><th>File</th></tr></thead>'
        f"<tbody>{body_rows}</tbody></table>\n{empty}"
    )
    return document("Reports", body)


# Fetches LIVE_PAGE_SIZE permits after the window's load event and on every "Load more" click.
# The button is disabled while a request is in flight and removed once every permit is shown.
_LIVE_SCRIPT = """
(() => {
  const PAGE = __PAGE__;
  const rows = document.querySelector("#live-permits tbody");
  const button = document.getElementById("load-more");
  const status = document.getElementById("live-status");
  let offset = 0;
  async function load() {
    button.disabled = true;
    status.textContent = "Loading permits...";
    try {
      const response = await fetch(`/api/permits?offset=${offset}&limit=${PAGE}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      for (const item of data.items) {
        const row = rows.insertRow();
        row.dataset.permitId = item.id;
        for (const text of [item.id, item.name, item.status, "$" + item.fee.toFixed(2)]) {
          row.insertCell().textContent = text;
        }
      }
      offset += data.items.length;
      status.textContent = `Showing ${offset} of ${data.total} permits`;
      if (offset >= data.total || data.items.length === 0) {
        button.remove();
      } else {
        button.disabled = false;
      }
    } catch (error) {
      status.textContent = `Could not load permits: ${error.message}`;
      button.disabled = false;
    }
  }
  button.addEventListener("click", load);
  window.addEventListener("load", load);
})();
""".replace("__PAGE__", str(LIVE_PAGE_SIZE))


def live() -> str:
    body = (
        "<h1>Live permit list</h1>\n"
        '<p id="live-status" role="status">Loading permits...</p>\n'
        '<table id="live-permits"><thead><tr><th>ID</th><th>Name</th><th>Status</th><th>Fee</th></tr></thead>'
        "<tbody></tbody></table>\n"
        '<button type="button" id="load-more" disabled>Load more</button>\n'
        f"<script>{_LIVE_SCRIPT}</script>"
    )
    return document("Live permit list", body)
