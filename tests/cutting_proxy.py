"""A loopback TCP proxy in front of Redis that plays the server dying part-way through a call.

It passes requests on until it has seen ``cut_after`` chunks of them (one chunk is what one
read of a client's socket returns: a command, or a pipeline written in one go), then drops
every connection and refuses new ones, as a server that died would. Two ways to die:

- ``reply_lost=False``: the chunk that reaches the limit is never delivered (Redis died just
  before reading it);
- ``reply_lost=True``: it is delivered, Redis runs it, and the proxy dies as the reply comes
  back (Redis died just after writing) — the caller cannot know the write happened.

Where the chunks fall depends on how the client and the kernel batch bytes; what a test
asserts must hold at every cut, so that does not make it flaky, only decides which cut
points a run happens to visit.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self


class CuttingProxy:
    def __init__(self, target_port: int, cut_after: int, reply_lost: bool) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.reply_lost = reply_lost
        self.chunks = 0
        self.cut = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._die()
        for pump in list(self._pumps):
            pump.cancel()
        for pump in list(self._pumps):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await pump
        assert self._server is not None
        await self._server.wait_closed()

    def _die(self) -> None:
        self.cut = True
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        self._writers.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.append(up_writer)
        for pump in (self._up(reader, up_writer), self._down(up_reader, writer)):
            task = asyncio.create_task(pump)
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _up(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        """Client to Redis, counting chunks."""
        with contextlib.suppress(OSError):
            while not self.cut and (data := await reader.read(65_536)):
                self.chunks += 1
                if self.chunks >= self.cut_after and not self.reply_lost:
                    self._die()
                    return
                up.write(data)
                await up.drain()
                if self.chunks >= self.cut_after:
                    return  # delivered; _down dies on its reply

    async def _down(self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Redis to client; once the last chunk went up, its reply is swallowed instead."""
        with contextlib.suppress(OSError):
            while not self.cut and (data := await up_reader.read(65_536)):
                if self.chunks >= self.cut_after:
                    self._die()
                    return
                writer.write(data)
                await writer.drain()
