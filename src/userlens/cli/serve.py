"""`userlens serve`: the server under uvicorn, with a graceful drain on SIGTERM/SIGINT."""

from __future__ import annotations

import gc
import logging

import uvicorn

from userlens.config import Settings
from userlens.web import create_app


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper() if settings.log_level != "trace" else "DEBUG"
    )
    app = create_app(settings)
    tune_gc()
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
        # Whether `X-Forwarded-For` is believed is USERLENS_TRUST_PROXY's call alone; uvicorn
        # would otherwise believe it from any connection made on 127.0.0.1.
        proxy_headers=False,
    )
    uvicorn.Server(config).run()


GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Make the cyclic garbage collector cheaper for a server that allocates in bursts.

    Everything loaded at start-up (modules, the app, its routes) lives as long as the
    process: `gc.freeze` takes it out of every later collection. Parsing a batch of events
    makes hundreds of short-lived dicts and lists, and the default young-generation threshold
    (700 allocations) would run a collection several times per request; 10,000 runs one every
    few requests, each over little more memory.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
