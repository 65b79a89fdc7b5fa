"""The web dashboard: ``strew_dashboard(docket)`` is an ASGI app to mount in a Starlette or
FastAPI app, and ``strew dashboard`` serves it alone (docs/dashboard.md). Needs the
``dashboard`` extra: ``pip install 'strew[dashboard]'``."""

from strew.dashboard.app import strew_dashboard

__all__ = ["strew_dashboard"]
