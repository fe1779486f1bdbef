"""Delivering alert messages through apprise, off the supervisor's event loop.

The URLs (apprise's: ``tgram://``, ``ntfy://``, ``mailto://``, ``json://`` ...) come from
the environment only, never from grids.toml, and are never logged: they carry tokens.

* ``GRIDSUP_ALERT_URLS``: URLs separated by whitespace or commas;
* ``GRIDSUP_ALERT_URLS_FILE``: a file with one URL per line (``#`` comments), for
  secrets mounted as files (Docker, Kubernetes).

A worker thread takes messages from a bounded queue and sends each with a timeout; when
the alert service is down the queue fills and further messages are dropped (counted),
never waited for: trading goes on whatever the phone's provider does.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from pathlib import Path

import structlog

from gridsup.messages.alerts import AlertSeverity

log = structlog.get_logger("gridsup.supervisor.alerts")

URLS_ENV = "GRIDSUP_ALERT_URLS"
URLS_FILE_ENV = "GRIDSUP_ALERT_URLS_FILE"
_QUEUE_SIZE = 64
_STOP = None


class AlertConfigError(ValueError):
    """The alert URLs cannot be read or apprise refuses one (the URL is not shown)."""


def alert_urls(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The apprise URLs from the environment (see the module docstring).

    Raises:
        AlertConfigError: ``GRIDSUP_ALERT_URLS_FILE`` names a file that cannot be read.
    """
    urls = [u for u in re.split(r"[\s,]+", environ.get(URLS_ENV, "")) if u]
    path = environ.get(URLS_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AlertConfigError(
                f"{URLS_FILE_ENV}: cannot read {path}: {exc.strerror or exc}"
            ) from None
        for line in text.splitlines():
            line = line.strip()  # '#' starts a comment line only: URLs may hold one
            if line and not line.startswith("#"):
                urls.append(line)
    return urls


class AppriseSender:
    """A :class:`~gridsup.supervisor.alerts.Notifier` with a worker thread.

    Raises (constructor):
        AlertConfigError: apprise does not accept one of ``urls`` (its position is named).
    """

    def __init__(self, urls: list[str], timeout_s: float = 10.0) -> None:
        import apprise

        self._apprise = apprise.Apprise()
        for index, url in enumerate(urls, 1):
            if not self._apprise.add(_with_timeouts(url, timeout_s)):
                raise AlertConfigError(f"alert URL #{index} is not a valid apprise URL")
        self.count = len(urls)
        self._queue: queue.Queue[tuple[str, str, AlertSeverity] | None] = queue.Queue(_QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, title: str, body: str, severity: AlertSeverity) -> bool:
        try:
            self._queue.put_nowait((title, body, severity))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Let the worker finish what is queued, within ``timeout`` seconds (it is a
        daemon thread: whatever is still sending then is abandoned)."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        import apprise

        types = {
            AlertSeverity.WARNING: apprise.NotifyType.WARNING,
            AlertSeverity.CRITICAL: apprise.NotifyType.FAILURE,
        }
        while (item := self._queue.get()) is not _STOP:
            title, body, severity = item
            try:
                ok = bool(self._apprise.notify(body=body, title=title, notify_type=types[severity]))
            except Exception as exc:  # a plugin's bug must not end the worker
                ok = False
                log.error("alert_send_failed", error=type(exc).__name__)
            if ok:
                self.sent += 1
            else:
                self.failed += 1
                log.warning("alert_not_delivered", title=title)


def _with_timeouts(url: str, timeout_s: float) -> str:
    """Apprise's connect (``cto``) and read (``rto``) timeouts, unless the URL sets them."""
    if "cto=" in url or "rto=" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}cto={timeout_s:g}&rto={timeout_s:g}"
