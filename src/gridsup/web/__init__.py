"""The web dashboard: a small aiohttp application served from inside the supervisor
(``gridsup start --web ADDR``): the fleet, one grid on a chart, the supervision tree, a
read-only JSON API under ``/api/`` (OpenAPI at ``/api/openapi.json``), live updates by
server-sent events, and pause/resume/stop of a grid behind a bearer token. Its assets
(uPlot, MIT, vendored under ``static/uplot/``) ship in the wheel. See docs/web.md."""

from gridsup.web.settings import WebConfigError, WebSettings, web_settings

__all__ = ["WebConfigError", "WebSettings", "web_settings"]
