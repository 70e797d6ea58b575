"""`userlens serve`: the server under uvicorn, with a graceful drain on SIGTERM/SIGINT."""

from __future__ import annotations

import logging

import uvicorn

from userlens.config import Settings
from userlens.web import create_app


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper() if settings.log_level != "trace" else "DEBUG"
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    uvicorn.Server(config).run()
