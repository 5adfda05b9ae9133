"""flowlog's Dash dashboard (installed as ``flowlog.dashboard``)."""

from flowlog.dashboard.app import create_app

__all__ = ["create_app"]
