"""A real HTTP receiver on 127.0.0.1 for apprise's ``json://`` schema, in a thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Collects the JSON bodies POSTed to it. ``hold`` set: every request waits on
    ``release`` before it is answered (an alert service that hangs)."""

    def __init__(self, hold: bool = False) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner.lock:
                    owner.messages.append(body)
                owner.arrived.set()
                owner.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts"

    def titles(self) -> list[str]:
        with self.lock:
            return [str(m.get("title", "")) for m in self.messages]

    def bodies(self) -> list[str]:
        with self.lock:
            return [str(m.get("message", "")) for m in self.messages]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
