"""The worker's health check: a tiny HTTP server for a liveness probe.

``GET /`` answers ``200 OK`` while the worker's run is alive *and* the store answers a cheap
call within a second, ``503`` otherwise. Both matter: a worker whose loop died serves no
tasks, and neither does one whose Redis is gone (it keeps retrying, but an orchestrator
should know). It binds loopback unless told otherwise (``--healthcheck-host``): a probe run
inside the container reaches it there, but a Kubernetes ``httpGet`` probe connects to the
pod's IP, so that needs ``0.0.0.0`` (or the pod's address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from strew.stores import StoreError

logger = logging.getLogger("strew.cli")

HOST = "127.0.0.1"
STORE_TIMEOUT = 1.0
# A probe's request is a line and a few headers; anything bigger or slower is not a probe.
_READ_TIMEOUT = 5.0
_MAX_HEADER_LINES = 100

Check = Callable[[], Awaitable[tuple[bool, str]]]


def store_check(running: asyncio.Task[None], ping: Callable[[], Awaitable[object]]) -> Check:
    """Healthy while ``running`` has not ended and ``ping()`` returns within STORE_TIMEOUT."""

    async def check() -> tuple[bool, str]:
        if running.done():
            return False, "the worker is not running"
        try:
            await asyncio.wait_for(ping(), STORE_TIMEOUT)
        except TimeoutError:
            return False, f"the store did not answer within {STORE_TIMEOUT:g}s"
        except StoreError as error:
            return False, f"the store failed: {error}"
        except Exception as error:
            # Whatever else a broken connection raises, the probe answers 503, never crashes.
            return False, f"the store check failed: {error!r}"
        return True, "ok"

    return check


def _response(status: str, body: str) -> bytes:
    data = (body + "\n").encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


async def _answer(check: Check, reader: asyncio.StreamReader) -> bytes:
    request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
    for _ in range(_MAX_HEADER_LINES):
        line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
        if line in (b"\r\n", b"\n", b""):
            break
    parts = request.decode("latin-1").split()
    if len(parts) < 2:
        return _response("400 Bad Request", "bad request")
    method, target = parts[0], parts[1]
    if method not in ("GET", "HEAD"):
        return _response("405 Method Not Allowed", "use GET /")
    if target.split("?", 1)[0] != "/":
        return _response("404 Not Found", "the health check is GET /")
    healthy, reason = await check()
    answer = _response("200 OK" if healthy else "503 Service Unavailable", reason)
    if method == "HEAD":
        return answer.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    return answer


async def serve(port: int, check: Check, host: str = HOST) -> asyncio.Server:
    """Start answering health probes on ``host:port``; close the returned server to stop.
    Raises OSError when the address cannot be bound."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await _answer(check, reader))
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass  # a probe that hung up or dawdled gets nothing; the next one will do
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    logger.info("health check on http://%s:%d/", host, port)
    return server
