"""Threaded loopback HTTP server for the permit-directory fixture site.

Layout "a" is the baseline markup; layout "b" serves the same data and URLs with
redesigned markup, so selector-based automation written against "a" breaks.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast
from urllib.parse import parse_qs, urlencode, urlsplit

from . import pages as page_markup
from . import renewal
from .data import (
    CATEGORIES,
    FEE_SCHEDULE,
    PAGE_SIZE,
    PERMITS,
    REPORTS,
    STATUSES,
    Permit,
    Submission,
    by_id,
    confirmation_number,
    filtered,
    listed,
    page_count,
    page_of,
    renewal_fee,
    report_by_slug,
)
from .markup import document, money

LAYOUTS = ("a", "b")
MAX_SLOW_MS = 60_000
MAX_API_LIMIT = 100
SESSION_COOKIE = "renewal_session"
HTML = "text/html; charset=utf-8"


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Response:
    body: bytes
    status: int = 200
    content_type: str = HTML
    headers: list[tuple[str, str]] = field(default_factory=list)


def _redirect(location: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(b"", 303, headers=[("Location", location), *(headers or [])])


def _json(value: object, status: int = 200) -> _Response:
    return _Response(json.dumps(value).encode("utf-8"), status, "application/json")


def _directory_href(page: int, category: str, status: str) -> str:
    params: dict[str, str | int] = {"page": page}
    if category:
        params["category"] = category
    if status:
        params["status"] = status
    return f"/directory?{urlencode(params)}"


def _options(values: list[str], selected: str, all_label: str) -> str:
    items = [f'<option value="">{escape(all_label)}</option>']
    for value in values:
        mark = " selected" if value == selected else ""
        items.append(f'<option value="{escape(value)}"{mark}>{escape(value)}</option>')
    return "".join(items)


def _detail_fields(p: Permit) -> list[tuple[str, str]]:
    return [
        ("ID", p["id"]),
        ("Name", p["name"]),
        ("Category", p["category"]),
        ("Status", p["status"]),
        ("Fee", money(p["fee"])),
        ("City", p["city"]),
        ("Issued", p["issued"]),
        ("Phone", p["phone"]),
        ("Email", p["email"]),
    ]


class _Renderer:
    """Markup for one layout; every method returns a full HTML document."""

    def __init__(self, layout: str) -> None:
        self.layout = layout

    def home(self) -> str:
        if self.layout == "a":
            body = (
                "<h1>City Permit Office</h1>\n"
                "<ul>"
                '<li><a href="/directory">Permit directory</a></li>'
                '<li><a href="/table">Fee schedule</a></li>'
                '<li><a href="/renew">Renew a permit</a></li>'
                '<li><a href="/reports">Reports</a></li>'
                '<li><a href="/live">Live permit list</a></li>'
                "</ul>"
            )
        else:
            body = (
                '<header class="site-header"><span class="brand">Permits Online</span>'
                '<nav class="main-nav">'
                '<a class="nav-link" href="/directory">Browse permits</a> '
                '<a class="nav-link" href="/table">Fees</a> '
                '<a class="nav-link" href="/renew">Renew</a> '
                '<a class="nav-link" href="/reports">Reports</a> '
                '<a class="nav-link" href="/live">Live list</a>'
                "</nav></header>"
            )
        return document("City Permit Office", body)

    def directory(self, page: int, pages: int, total: int, rows: list[Permit], category: str, status: str) -> str:
        if self.layout == "a":
            body = (
                "<h1>Permit Directory</h1>\n"
                + self._filter_form_a(category, status)
                + self._table_a(rows)
                + self._pagination_a(page, pages, category, status)
            )
        else:
            body = (
                '<div class="page"><h2 class="page-title">Find a permit</h2>\n'
                + self._filter_form_b(category, status)
                + self._cards_b(rows)
                + self._pager_b(page, pages, total, category, status)
                + "</div>"
            )
        return document("Permit Directory", body)

    def detail(self, p: Permit) -> str:
        if self.layout == "a":
            items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in _detail_fields(p))
            body = (
                f"<h1>{escape(p['name'])}</h1>\n"
                f'<dl class="details">{items}</dl>\n'
                '<p><a href="/directory">Back to directory</a></p>'
            )
        else:
            items = "".join(
                f'<div class="field"><span class="field-label">{escape(label)}</span>'
                f'<span class="field-value">{escape(value)}</span></div>'
                for label, value in _detail_fields(p)
            )
            body = (
                f'<main class="permit-detail" data-permit-id="{escape(p["id"])}">'
                f'<h2 class="permit-title">{escape(p["name"])}</h2>\n'
                f'<div class="field-list">{items}</div>\n'
                '<a class="back-link" href="/directory">&larr; All permits</a></main>'
            )
        return document(f"{p['name']} - Permit {p['id']}", body)

    def fee_table(self) -> str:
        cells = [
            (r["category"], money(r["base_fee"]), money(r["late_fee"]), f"{r['renewal_months']} months")
            for r in FEE_SCHEDULE
        ]
        head = ("Category", "Base fee", "Late fee", "Renewal period")
        if self.layout == "a":
            header = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
            rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in cells)
            body = f'<h1>Fee Schedule</h1>\n<table id="fees">{header}{rows}</table>'
        else:
            header = "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in head)
            rows = "".join(
                f'<tr><th scope="row">{escape(row[0])}</th>'
                + "".join(f"<td>{escape(c)}</td>" for c in row[1:])
                + "</tr>"
                for row in cells
            )
            body = (
                '<h2 class="page-title">Fees</h2>\n<table class="schedule">'
                f"<caption>Permit fees by category</caption>{header}</tr></thead>"
                f"<tbody>{rows}</tbody></table>"
            )
        return document("Fee Schedule", body)

    def _filter_form_a(self, category: str, status: str) -> str:
        return (
            '<form id="filters" method="get" action="/directory">'
            '<label>Category <select name="category">'
            f"{_options(CATEGORIES, category, 'All categories')}</select></label> "
            '<label>Status <select name="status">'
            f"{_options(STATUSES, status, 'All statuses')}</select></label> "
            '<button type="submit">Filter</button></form>\n'
        )

    def _filter_form_b(self, category: str, status: str) -> str:
        return (
            '<form class="search-bar" method="get" action="/directory">'
            '<select id="type-filter" name="category" aria-label="Permit type">'
            f"{_options(CATEGORIES, category, 'Any type')}</select>"
            '<select id="state-filter" name="status" aria-label="Permit state">'
            f"{_options(STATUSES, status, 'Any state')}</select>"
            '<input type="submit" class="btn" value="Apply"></form>\n'
        )

    def _table_a(self, rows: list[Permit]) -> str:
        head = ("ID", "Name", "Category", "Status", "Fee", "City", "Issued")
        header = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
        body = "".join(
            f"<tr><td>{escape(p['id'])}</td>"
            f'<td><a href="/directory/{escape(p["id"])}">{escape(p["name"])}</a></td>'
            f"<td>{escape(p['category'])}</td><td>{escape(p['status'])}</td>"
            f"<td>{money(p['fee'])}</td><td>{escape(p['city'])}</td>"
            f"<td>{escape(p['issued'])}</td></tr>"
            for p in rows
        )
        empty = "" if rows else '<p class="empty">No permits match these filters.</p>\n'
        return f'<table id="permits">{header}{body}</table>\n{empty}'

    def _cards_b(self, rows: list[Permit]) -> str:
        if not rows:
            return '<div class="results"><div class="no-results">Nothing found.</div></div>\n'
        cards = "".join(
            f'<div class="permit-card" data-permit-id="{escape(p["id"])}">'
            f'<h3 class="permit-card__title"><a href="/directory/{escape(p["id"])}">'
            f"{escape(p['name'])}</a></h3><dl>"
            f"<dt>Permit no.</dt><dd>{escape(p['id'])}</dd>"
            f"<dt>Type</dt><dd>{escape(p['category'])}</dd>"
            f"<dt>State</dt><dd>{escape(p['status'])}</dd>"
            f"<dt>Amount</dt><dd>{money(p['fee'])}</dd>"
            f"<dt>Location</dt><dd>{escape(p['city'])}</dd>"
            f"<dt>Issued on</dt><dd>{escape(p['issued'])}</dd>"
            "</dl></div>"
            for p in rows
        )
        return f'<div class="results">{cards}</div>\n'

    def _pagination_a(self, page: int, pages: int, category: str, status: str) -> str:
        if page > 1:
            prev = f'<a rel="prev" href="{escape(_directory_href(page - 1, category, status))}">Previous</a>'
        else:
            prev = '<span class="disabled">Previous</span>'
        if page < pages:
            nxt = f'<a rel="next" href="{escape(_directory_href(page + 1, category, status))}">Next</a>'
        else:
            nxt = '<span class="disabled">Next</span>'
        return f'<nav class="pagination">{prev} <span class="page-info">Page {page} of {pages}</span> {nxt}</nav>'

    def _pager_b(self, page: int, pages: int, total: int, category: str, status: str) -> str:
        items = []
        if page > 1:
            href = escape(_directory_href(page - 1, category, status))
            items.append(f'<li class="pager__item pager__item--prev"><a href="{href}">&lsaquo; Back</a></li>')
        for n in range(1, pages + 1):
            href = escape(_directory_href(n, category, status))
            if n == page:
                items.append(f'<li class="pager__item is-current"><span aria-current="page">{n}</span></li>')
            else:
                items.append(f'<li class="pager__item"><a href="{href}">{n}</a></li>')
        if page < pages:
            href = escape(_directory_href(page + 1, category, status))
            items.append(f'<li class="pager__item pager__item--next"><a href="{href}">More results &rsaquo;</a></li>')
        first = (page - 1) * PAGE_SIZE + 1 if total else 0
        last = min(page * PAGE_SIZE, total)
        return (
            f'<div class="pager"><p class="pager__summary">Showing {first}&ndash;{last} of {total}</p>'
            f'<ul class="pager__list">{"".join(items)}</ul></div>'
        )

    def slow(self, ms: int) -> str:
        return document("Slow page", f'<h1>Slow page</h1>\n<p id="delay">Waited {ms} ms.</p>')

    def error(self, status: int, message: str) -> str:
        body = f'<h1>{status}</h1>\n<p>{escape(message)}</p>\n<p><a href="/">Home</a></p>'
        return document(f"{status} {message}", body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default per-request stderr line; tests use Site.requests instead."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    @property
    def site(self) -> Site:
        return cast(_SiteServer, self.server).site

    def _serve(self, method: str) -> None:
        site = self.site
        site._record(self.path)
        renderer = _Renderer(site.layout)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            form = self._read_form() if method == "POST" else {}
            result = self._route(method, path, query, form, renderer)
        except _HttpError as exc:
            if path.startswith("/api/"):
                result = _json({"error": exc.message}, exc.status)
            else:
                result = _Response(renderer.error(exc.status, exc.message).encode("utf-8"), exc.status)
        response = _Response(result.encode("utf-8")) if isinstance(result, str) else result
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def _read_form(self) -> dict[str, str]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _HttpError(400, "Invalid Content-Length") from None
        raw = self.rfile.read(length) if length > 0 else b""
        pairs = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in pairs.items()}

    def _route(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], renderer: _Renderer
    ) -> str | _Response:
        if method == "POST":
            if path in ("/renew/step1", "/renew/step2", "/renew/step3"):
                return self._renew_post(path, form)
            raise _HttpError(405, "Method Not Allowed")
        if path == "/":
            return renderer.home()
        if path == "/directory":
            return self._directory(renderer, query)
        if path.startswith("/directory/"):
            permit = by_id(path.removeprefix("/directory/"))
            if permit is None:
                raise _HttpError(404, "Permit not found")
            return renderer.detail(permit)
        if path == "/table":
            return renderer.fee_table()
        if path == "/slow":
            ms = _int_param(query, "ms", 0)
            ms = max(0, min(ms, MAX_SLOW_MS))
            time.sleep(ms / 1000)
            return renderer.slow(ms)
        if path == "/renew" or path.startswith("/renew/"):
            return self._renew_get(path)
        if path == "/reports":
            year = _int_param(query, "year", 0) or None
            return page_markup.reports([r for r in REPORTS if year is None or r["year"] == year], year)
        if path.startswith("/reports/"):
            return _report_csv(path.removeprefix("/reports/"))
        if path == "/live":
            return page_markup.live()
        if path == "/api/permits":
            return self._api_permits(query)
        raise _HttpError(404, "Not Found")

    def _session(self) -> tuple[str | None, dict[str, str] | None]:
        """(session id from the cookie, its wizard state); the state is None for a missing or unknown id."""
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except CookieError:
            return None, None
        morsel = cookie.get(SESSION_COOKIE)
        if morsel is None:
            return None, None
        return morsel.value, self.site.renewal_sessions.get(morsel.value)

    def _renew_get(self, path: str) -> str | _Response:
        session_id, state = self._session()
        if path == "/renew":
            if state is not None and "confirmation" in state:
                # A finished renewal: start over with a fresh session at the next step 1 submit.
                self.site._drop_session(session_id)
                return _Response(renewal.step1({}, {}).encode("utf-8"), headers=[("Set-Cookie", _cookie(""))])
            return renewal.step1(state or {}, {})
        if path == "/renew/done":
            if state is None or "confirmation" not in state:
                return _redirect("/renew")
            return renewal.done(_submission(state))
        permit = _active_permit(state)
        if state is None or permit is None or path not in ("/renew/step2", "/renew/step3"):
            return _redirect("/renew")
        if path == "/renew/step2":
            return renewal.step2(permit, state, {})
        if "years" not in state:
            return _redirect("/renew/step2")
        return renewal.step3(permit, state, {})

    def _renew_post(self, path: str, form: dict[str, str]) -> str | _Response:
        _, state = self._session()
        if path == "/renew/step1":
            values, errors = renewal.check_step1(form)
            if errors:
                return renewal.step1(values, errors)
            headers = []
            if state is None or "confirmation" in state:
                session_id, state = self.site._new_session()
                headers.append(("Set-Cookie", _cookie(session_id)))
            state.update(values)
            return _redirect("/renew/step2", headers)
        if path == "/renew/step3" and state is not None and "confirmation" in state:
            return _redirect("/renew/done")  # a repeated submit records nothing new
        permit = _active_permit(state)
        if state is None or permit is None:
            return _redirect("/renew")
        if path == "/renew/step2":
            values, errors = renewal.check_step2(form)
            if errors:
                return renewal.step2(permit, values, errors)
            state.update(values)
            return _redirect("/renew/step3")
        if "years" not in state:
            return _redirect("/renew/step2")
        if not form.get("agree"):
            return renewal.step3(permit, state, {"agree": renewal.AGREE_ERROR})
        self.site._complete(state)
        return _redirect("/renew/done")

    def _api_permits(self, query: dict[str, str]) -> _Response:
        offset = _int_param(query, "offset", 0)
        limit = _int_param(query, "limit", page_markup.LIVE_PAGE_SIZE)
        if offset < 0:
            raise _HttpError(400, "'offset' must be 0 or more")
        if not 1 <= limit <= MAX_API_LIMIT:
            raise _HttpError(400, f"'limit' must be between 1 and {MAX_API_LIMIT}")
        time.sleep(self.site.api_delay)
        return _json({"items": [listed(p) for p in PERMITS[offset : offset + limit]], "total": len(PERMITS)})

    @staticmethod
    def _directory(renderer: _Renderer, query: dict[str, str]) -> str:
        category = query.get("category", "")
        status = query.get("status", "")
        records = filtered(category, status)
        pages = page_count(records)
        page = _int_param(query, "page", 1)
        if not 1 <= page <= pages:
            raise _HttpError(404, f"Page {page} does not exist")
        return renderer.directory(page, pages, len(records), page_of(page, records), category, status)


def _cookie(session_id: str) -> str:
    """Set-Cookie value for the renewal session; an empty id deletes the cookie."""
    expiry = "" if session_id else "; Max-Age=0"
    return f"{SESSION_COOKIE}={session_id}; Path=/renew; HttpOnly; SameSite=Lax{expiry}"


def _active_permit(state: dict[str, str] | None) -> Permit | None:
    """The permit of an unfinished wizard session, or None when there is nothing to continue."""
    if state is None or "confirmation" in state:
        return None
    return by_id(state.get("permit_id", ""))


def _submission(state: dict[str, str]) -> Submission:
    years = int(state["years"])
    return Submission(
        permit_id=state["permit_id"],
        owner_name=state["owner_name"],
        email=state["email"],
        phone=state["phone"],
        years=years,
        fee=renewal_fee(state["permit_id"], years),
        confirmation=confirmation_number(state["permit_id"], state["owner_name"], state["email"], years),
    )


def _report_csv(name: str) -> _Response:
    report = report_by_slug(name.removesuffix(".csv")) if name.endswith(".csv") else None
    if report is None:
        raise _HttpError(404, "Report not found")
    disposition = f'attachment; filename="{report["slug"]}.csv"'
    return _Response(
        report["csv"].encode("utf-8"), content_type="text/csv", headers=[("Content-Disposition", disposition)]
    )


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _HttpError(400, f"Invalid {name!r} parameter") from None


class Site:
    """A running fixture site; `layout` may be switched between requests.

    `requests` logs every request path (POSTs included), `submissions` every completed renewal,
    `renewal_sessions` maps a `renewal_session` cookie value to that wizard's state, and
    `api_delay` is the artificial delay in seconds of /api/permits.
    """

    def __init__(self, layout: str = "a") -> None:
        self.layout = layout
        self.requests: list[str] = []
        self.submissions: list[Submission] = []
        self.renewal_sessions: dict[str, dict[str, str]] = {}
        self.api_delay = 0.3
        self._lock = threading.Lock()
        self._server = _SiteServer(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"fixture-site-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def layout(self) -> str:
        return self._layout

    @layout.setter
    def layout(self, value: str) -> None:
        if value not in LAYOUTS:
            raise ValueError(f"unknown layout {value!r}; expected one of {LAYOUTS}")
        self._layout = value

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def _new_session(self) -> tuple[str, dict[str, str]]:
        session_id = secrets.token_hex(16)
        state: dict[str, str] = {}
        with self._lock:
            self.renewal_sessions[session_id] = state
        return session_id, state

    def _drop_session(self, session_id: str | None) -> None:
        with self._lock:
            self.renewal_sessions.pop(session_id or "", None)

    def _complete(self, state: dict[str, str]) -> None:
        """Record the renewal once, even if the final step is submitted twice at the same moment."""
        with self._lock:
            if "confirmation" in state:
                return
            submission = _submission(state)
            state["confirmation"] = submission["confirmation"]
            self.submissions.append(submission)

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Site:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_site(layout: str = "a") -> Site:
    """Start the fixture site on an ephemeral loopback port, serving from a daemon thread."""
    return Site(layout)
