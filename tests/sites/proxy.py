"""A forwarding HTTP proxy on loopback that needs credentials and serves one made-up host name.

Requests for `http://<alias>/…` are forwarded to the fixture site, so a page that loads at all under
that name proves the browser went through this proxy.
"""

from __future__ import annotations

import base64
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, target: str, alias: str, username: str, password: str) -> None:
        self.alias = alias
        self.seen: list[str] = []
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Proxy-Authorization") != expected:
                    self.send_response(407)
                    self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                url = urlsplit(self.path)
                proxy.seen.append(self.path)
                if url.hostname != proxy.alias:
                    self.send_error(502)
                    return
                with urllib.request.urlopen(f"{target}{url.path}?{url.query}") as upstream:
                    body = upstream.read()
                    self.send_response(upstream.status)
                    self.send_header("Content-Type", upstream.headers.get("Content-Type", "text/html"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{username}:{password}@127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
