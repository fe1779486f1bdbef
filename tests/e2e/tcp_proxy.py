"""A TCP proxy on 127.0.0.1 that a test puts between one process and a server, to cut
that process off (PostgreSQL) or to see what it sends (the exchange).

:meth:`TcpProxy.freeze` is a silent partition: bytes are neither read nor forwarded in
either direction and new connections get no answer, but nothing is closed (no reset, no
FIN: as when packets vanish on the network); :meth:`TcpProxy.thaw` heals it. ``watch``
records the wall-clock time of every occurrence of a byte pattern in what the client
sends (e.g. ``POST /api/v3/order``: when this member placed its orders).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class TcpProxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``target_port`` from a thread of its own."""

    def __init__(self, target_port: int, watch: bytes | None = None) -> None:
        self.target_port = target_port
        self.watch = watch
        self.seen: list[float] = []  # time.time() of each ``watch`` sent by the client
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def freeze(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def thaw(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    async def _start(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # frozen: the connection is accepted, never answered
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(
                self._pump(reader, upstream, self.watch), self._pump(up_reader, writer, None)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away: close both
        except asyncio.CancelledError:
            # The proxy closes. Ended quietly: asyncio's stream server logs the
            # cancellation of a connection handler as an error (Python 3.11).
            pass
        finally:
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()
            self._tasks.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: bytes | None
    ) -> None:
        tail = b""  # the end of the last chunk: a pattern may span two reads
        while True:
            await self._flowing.wait()
            data = await reader.read(65536)
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            if watch is not None:
                window = tail + data
                self.seen.extend(time.time() for _ in range(window.count(watch)))
                tail = window[-(len(watch) - 1) :]
            await self._flowing.wait()  # read while frozen: held until thawed
            writer.write(data)
            await writer.drain()
