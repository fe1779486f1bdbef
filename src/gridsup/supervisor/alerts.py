"""Alert deduplication and rate limiting: what reaches an operator's phone, and when.

:class:`AlertCenter` is pure logic over a clock and a :class:`Notifier` (the seam: the
real one is :class:`~gridsup.supervisor.alert_sender.AppriseSender`, tests pass a list).
Conditions are raised and cleared by (cause, subject); per *cause*:

* the first raise sends one message at once;
* further raises within ``window_s`` (any subject: a hundred grids in a crash loop) send
  nothing then; when the window is over, one message lists what came meanwhile;
* when the last subject of a cause clears, one summary says so (how long, how many
  times) -- only if a message about it was sent.

So a cause costs at most one message per window plus one summary, whatever the storm.
Every raise and clear is also logged (``alert_raised``/``alert_cleared``), sent or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from gridsup.messages.alerts import AlertCause, AlertSeverity

log = structlog.get_logger("gridsup.supervisor.alerts")

_LISTED = 10  # subjects named in one message; the rest are counted


class Notifier(Protocol):
    def submit(self, title: str, body: str, severity: AlertSeverity) -> bool:
        """Queue a message for delivery; False when it was dropped (queue full).
        Must return at once: delivery happens elsewhere."""
        ...


@dataclass(slots=True)
class _CauseState:
    active: dict[str, str] = field(default_factory=dict)  # subject -> detail
    since: float | None = None  # when the first active subject was raised
    raises: int = 0  # raises since ``since``
    last_sent: float | None = None  # when a raise message was last sent
    pending: dict[str, str] = field(default_factory=dict)  # raised, not told yet
    told: bool = False  # a message about the current episode was sent
    severity: AlertSeverity = AlertSeverity.WARNING


class AlertCenter:
    """See the module docstring. ``now`` is monotonic seconds."""

    def __init__(
        self,
        notifier: Notifier | None,
        window_s: float = 900.0,
        now: Callable[[], float] = time.monotonic,
        host: str = "",
    ) -> None:
        self.notifier = notifier
        self.window_s = window_s
        self.now = now
        self.host = host
        self._causes: dict[AlertCause, _CauseState] = {}
        self._sent: dict[str, int] = {}
        self.suppressed = 0  # raises not sent at once (within the window), or dropped

    # -- conditions ------------------------------------------------------------------------

    def raise_(
        self,
        cause: AlertCause,
        subject: str,
        detail: str = "",
        severity: AlertSeverity = AlertSeverity.WARNING,
    ) -> None:
        """The condition ``cause`` holds for ``subject`` (idempotent while it holds)."""
        st = self._causes.setdefault(cause, _CauseState())
        if subject in st.active:
            return
        now = self.now()
        emit = log.critical if severity is AlertSeverity.CRITICAL else log.warning
        emit("alert_raised", alert=cause.value, subject=subject, detail=detail)
        if not st.active:
            st.since, st.raises = now, 0
        st.active[subject] = detail
        st.raises += 1
        if severity is AlertSeverity.CRITICAL:
            st.severity = severity
        if st.last_sent is None or now - st.last_sent >= self.window_s:
            self._send_raise(cause, st, {subject: detail}, now)
        else:
            st.pending[subject] = detail
            self.suppressed += 1

    def clear(self, cause: AlertCause, subject: str) -> None:
        """The condition no longer holds for ``subject``; a summary once none holds."""
        st = self._causes.get(cause)
        if st is None or subject not in st.active:
            return
        del st.active[subject]
        st.pending.pop(subject, None)
        log.info("alert_cleared", alert=cause.value, subject=subject)
        if st.active:
            return
        if st.told:
            lasted = self.now() - (st.since or self.now())
            body = (
                f"{cause.value} cleared: no subject affected any more "
                f"(raised {st.raises} time(s) over {lasted:.0f}s; last: {subject})"
            )
            self._submit(cause, f"gridsup{self._at()}: {cause.value} cleared", body, st.severity)
        st.told, st.since, st.raises = False, None, 0
        st.severity = AlertSeverity.WARNING

    def active(self, cause: AlertCause) -> dict[str, str]:
        st = self._causes.get(cause)
        return {} if st is None else dict(st.active)

    def tick(self) -> None:
        """Send what waited for its cause's window to pass (call every few seconds)."""
        now = self.now()
        for cause, st in self._causes.items():
            if st.pending and st.last_sent is not None and now - st.last_sent >= self.window_s:
                pending, st.pending = st.pending, {}
                self._send_raise(cause, st, pending, now)

    # -- figures ---------------------------------------------------------------------------

    def sent_by_cause(self) -> dict[str, int]:
        return dict(self._sent)

    # -- internals -------------------------------------------------------------------------

    def _at(self) -> str:
        return f" on {self.host}" if self.host else ""

    def _send_raise(
        self, cause: AlertCause, st: _CauseState, subjects: dict[str, str], now: float
    ) -> None:
        st.last_sent, st.told = now, True
        names = list(subjects)
        lines = [f"- {s}: {d}" if d else f"- {s}" for s, d in list(subjects.items())[:_LISTED]]
        if len(names) > _LISTED:
            lines.append(f"- ... and {len(names) - _LISTED} more")
        title = f"gridsup{self._at()}: {cause.value} ({len(names)})"
        body = "\n".join(
            [
                f"{cause.value}: {', '.join(names[:_LISTED])}",
                *lines,
                f"(at most one message per {self.window_s:.0f}s for this cause; "
                "a summary follows when it clears)",
            ]
        )
        self._submit(cause, title, body, st.severity)

    def _submit(self, cause: AlertCause, title: str, body: str, severity: AlertSeverity) -> None:
        if self.notifier is None:
            return
        if self.notifier.submit(title, body, severity):
            self._sent[cause.value] = self._sent.get(cause.value, 0) + 1
        else:
            self.suppressed += 1
            log.warning("alert_dropped", alert=cause.value, why="queue_full")
