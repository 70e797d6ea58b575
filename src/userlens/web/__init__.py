"""The HTTP face of Userlens: the ASGI app that joins capture, the JSON API and (later) pages."""

from userlens.web.app import UserlensApp, create_app

__all__ = ["UserlensApp", "create_app"]
