"""The runner's one way to its browser: a Unix socket in the slot directory, relayed to DevTools.

Under bubblewrap the runner has a network namespace of its own with nothing in it but loopback, so
automation code cannot open connections anywhere — not to Temporal, the API, cloud metadata or the
web. The worker relays `cdp.sock` to the browser's DevTools port (`serve_unix`); inside the runner's
namespace a loopback listener relays to that socket (`serve_loopback`), and Playwright connects to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

SOCKET_NAME = "cdp.sock"
CHUNK = 1 << 16

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Relay:
    """A listening server whose every connection is piped to a fresh connection made by `open_peer`."""

    def __init__(self, open_peer: Opener) -> None:
        self._open_peer = open_peer
        self._writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.base_events.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer_reader, peer_writer = await self._open_peer()
        except OSError:
            writer.close()
            return
        self._writers |= {writer, peer_writer}
        try:
            await asyncio.gather(_pump(reader, peer_writer), _pump(peer_reader, writer))
        finally:
            self._writers -= {writer, peer_writer}

    def close(self) -> None:
        """Stop listening and cut every relayed connection."""
        if self.server is not None:
            self.server.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.close()


async def serve_unix(path: Path, host: str, port: int) -> Relay:
    """Worker side: `path` relays to the browser's DevTools at host:port."""
    relay = Relay(lambda: asyncio.open_connection(host, port))
    relay.server = await asyncio.start_unix_server(relay.handle, path=str(path))
    return relay


async def serve_loopback(path: Path) -> tuple[Relay, int]:
    """Runner side: a loopback port (in the runner's own namespace) that relays to `path`."""
    relay = Relay(lambda: asyncio.open_unix_connection(str(path)))
    relay.server = await asyncio.start_server(relay.handle, host="127.0.0.1", port=0)
    port = int(relay.server.sockets[0].getsockname()[1])
    return relay, port
