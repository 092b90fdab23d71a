"""``python -m sandbox``: the sandbox acquirer as a server.

Every option can also come from an environment variable (SANDBOX_PORT, SANDBOX_DB, …); a
command-line option wins over the environment, which wins over the default. The defaults are a
development setup: loopback only, the key ``demo-key`` with its documented secret, webhooks to
a portal on port 8000.
"""

import argparse
import os
import sys

import uvicorn

from sandbox.app import create_app
from sandbox.calendar import parse_time
from sandbox.config import (
    DEFAULT_KEY_ID,
    DEFAULT_RETRY_SECONDS,
    DEFAULT_SECRET,
    DEFAULT_WEBHOOK_URL,
    SandboxConfig,
    Settings,
)


def env(name: str, default: str) -> str:
    return os.environ.get(f"SANDBOX_{name}", default)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=env("HOST", "127.0.0.1"), help="SANDBOX_HOST")
    p.add_argument("--port", type=int, default=int(env("PORT", "8001")), help="SANDBOX_PORT")
    p.add_argument("--db", default=env("DB", "var/sandbox.sqlite3"), help="SANDBOX_DB")
    p.add_argument("--key-id", default=env("KEY_ID", DEFAULT_KEY_ID), help="SANDBOX_KEY_ID")
    p.add_argument(
        "--key-secret", default=env("KEY_SECRET", DEFAULT_SECRET), help="SANDBOX_KEY_SECRET"
    )
    p.add_argument(
        "--webhook-url",
        default=env("WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
        help="SANDBOX_WEBHOOK_URL; empty sends no webhooks",
    )
    p.add_argument(
        "--webhook-retry",
        default=env("WEBHOOK_RETRY", ",".join(f"{s:g}" for s in DEFAULT_RETRY_SECONDS)),
        help="SANDBOX_WEBHOOK_RETRY: seconds between attempts, comma-separated; the last repeats",
    )
    p.add_argument(
        "--traffic-rate",
        type=float,
        default=float(env("TRAFFIC_RATE", str(Settings.traffic_rate))),
        help="SANDBOX_TRAFFIC_RATE: sales per merchant in a busy hour; 0 for none",
    )
    p.add_argument("--seed", type=int, default=int(env("SEED", "1")), help="SANDBOX_SEED")
    p.add_argument(
        "--start-at",
        default=env("START_AT", ""),
        help="SANDBOX_START_AT: RFC 3339 time the clock starts at (default: the real time)",
    )
    p.add_argument(
        "--frozen",
        action="store_true",
        default=env("FROZEN", "") not in ("", "0", "false"),
        help="SANDBOX_FROZEN: the clock stands still until the control API moves it",
    )
    p.add_argument(
        "--tick", type=float, default=float(env("TICK", "1.0")), help="SANDBOX_TICK (seconds)"
    )
    p.add_argument("--log-level", default=env("LOG_LEVEL", "info"), help="SANDBOX_LOG_LEVEL")
    return p


def config_from(args: argparse.Namespace) -> SandboxConfig:
    retry = tuple(float(part) for part in args.webhook_retry.split(",") if part.strip())
    settings = Settings(
        traffic_rate=args.traffic_rate,
        webhook_url=args.webhook_url,
        webhook_retry_seconds=retry or DEFAULT_RETRY_SECONDS,
    )
    return SandboxConfig(
        db_path=args.db,
        keys={args.key_id: args.key_secret},
        seed=args.seed,
        settings=settings,
        start_at=parse_time(args.start_at) if args.start_at else None,
        clock_frozen=args.frozen,
        tick_seconds=args.tick,
    )


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    app = create_app(config_from(args))
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # An acquirer does not name its web server; neither does the sandbox.
        server_header=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
