"""A tiny demo site served on loopback: a market price board with a category filter."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PRODUCE = [
    ("Apples", "Fruit", 2.40),
    ("Pears", "Fruit", 2.95),
    ("Plums", "Fruit", 3.80),
    ("Carrots", "Vegetable", 1.10),
    ("Leeks", "Vegetable", 2.20),
    ("Kale", "Vegetable", 3.05),
    ("Sourdough", "Bakery", 5.50),
    ("Rye loaf", "Bakery", 4.75),
]


def _page(category: str | None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{kind}</td><td>${price:.2f}</td></tr>"
        for name, kind, price in PRODUCE
        if not category or kind.lower() == category.lower()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Market board</title></head><body>"
        "<h1>Saturday market prices</h1>"
        "<table id='prices'><thead><tr><th>Item</th><th>Category</th><th>Price</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/":
            self.send_error(404)
            return
        category = parse_qs(url.query).get("category", [None])[0]
        body = _page(category).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
