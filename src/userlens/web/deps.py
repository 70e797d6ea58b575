"""Access to the running server's services from a request."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from userlens.web.services import Services


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)
