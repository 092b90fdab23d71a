"""The sandbox as an ASGI application: ``create_app(config)``.

In the server (``python -m sandbox``) the lifespan starts two background tasks: the
simulation catching up with the clock every ``tick_seconds``, and the webhook sender. A test
that drives the app in-process (httpx's ASGITransport runs no lifespan) moves the clock and
delivers webhooks through the control API instead, so nothing happens behind its back.
"""

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from sandbox import api, control
from sandbox.api import error_response, purge_nonces
from sandbox.clock import Clock
from sandbox.config import SandboxConfig, Settings
from sandbox.faults import Faults
from sandbox.simulation import Simulation
from sandbox.store import Store
from sandbox.webhooks import Outbox, Sender

logger = logging.getLogger(__name__)


class Sandbox:
    """Everything one sandbox holds: its store, clock, faults, settings, simulation and
    webhook outbox and sender."""

    def __init__(self, config: SandboxConfig, *, webhook_transport=None):
        self.config = config
        self.settings: Settings = config.settings
        self.store = Store(config.db_path)
        self.clock = Clock(config.start_at, frozen=config.clock_frozen)
        self.faults = Faults(config.seed)
        self.outbox = Outbox(lambda: self.settings, self.faults, self.clock)
        self.simulation = Simulation(
            store=self.store,
            clock=self.clock,
            settings=lambda: self.settings,
            outbox=self.outbox,
            seed=config.seed,
        )
        self.sender = Sender(
            store=self.store,
            clock=self.clock,
            keys=config.keys,
            settings=lambda: self.settings,
            faults=self.faults,
            timeout=config.webhook_timeout_seconds,
            transport=webhook_transport,
        )

    def reset(self) -> None:
        """Back to a new sandbox: no data, no faults, the configured settings and clock."""
        self.store.reset()
        self.faults.clear()
        self.settings = self.config.settings
        self.clock.reset()

    async def tick_forever(self) -> None:
        ticks = 0
        while True:
            try:
                await run_in_threadpool(self.simulation.run_until)
                ticks += 1
                if ticks % 60 == 0:
                    await run_in_threadpool(purge_nonces, self)
            except Exception:  # one failed pass must not stop the acquirer for good
                logger.exception("simulation tick failed")
            await asyncio.sleep(self.config.tick_seconds)


async def http_error(request: Request, error: HTTPException):
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        error.status_code, codes.get(error.status_code, "http_error"), str(error.detail)
    )


async def server_error(request: Request, error: Exception):
    logger.exception("unhandled error", exc_info=error)
    return error_response(500, "internal_error", "the acquirer could not answer")


def create_app(
    config: SandboxConfig | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The app for ``config``; ``webhook_transport`` lets a test receive webhooks in-process."""
    sandbox = Sandbox(config or SandboxConfig(), webhook_transport=webhook_transport)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        tasks = []
        if sandbox.config.background:
            tasks = [
                asyncio.create_task(sandbox.tick_forever()),
                asyncio.create_task(sandbox.sender.run(sandbox.config.webhook_poll_seconds)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await sandbox.sender.close()
            sandbox.store.close()

    app = Starlette(
        routes=api.routes() + control.routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.sandbox = sandbox
    return app
