"""How a sandbox is set up (``SandboxConfig``, fixed for the process) and the simulation's
knobs that the control API may turn while it runs (``Settings``)."""

from dataclasses import dataclass, field, fields, replace

DEFAULT_KEY_ID = "demo-key"
DEFAULT_SECRET = "demo-secret-change-me"  # noqa: S105 - the documented development pair
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/acquirer/"
DEFAULT_RETRY_SECONDS = (5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class Settings:
    """The simulation's rates, changeable at run time through ``POST /_sandbox/settings``."""

    # Sales per merchant in a busy hour (lunch and evening; quieter hours get fewer, none
    # between midnight and 07:00 Beijing time). 0 stops generated traffic.
    traffic_rate: float = 4.0
    # Share of sales whose fee the acquirer gets wrong by one fen.
    fee_error_rate: float = 0.01
    # Share of transactions the acquirer records minutes after they happened.
    late_arrival_rate: float = 0.02
    # Share of payouts that do not simply arrive (delay, return, channel fault, risk hold);
    # three times as many on the first business day after a public holiday.
    incident_rate: float = 0.08
    # Chance per merchant and day that a card sale of the past weeks is disputed.
    dispute_rate: float = 0.01
    # Where webhooks go; empty sends none (and queues none).
    webhook_url: str = DEFAULT_WEBHOOK_URL
    # Seconds to wait after each failed delivery; the last one repeats until a 2xx.
    webhook_retry_seconds: tuple[float, ...] = DEFAULT_RETRY_SECONDS

    RATES = ("fee_error_rate", "late_arrival_rate", "incident_rate", "dispute_rate")

    def updated(self, changes: dict) -> "Settings":
        """A copy with ``changes`` applied; ValueError names a setting that is wrong."""
        known = {item.name for item in fields(self)}
        values = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"{name}: no such setting")
            if name == "webhook_url":
                if not isinstance(value, str):
                    raise ValueError("webhook_url: a URL or an empty string is needed")
                values[name] = value
            elif name == "webhook_retry_seconds":
                if not (
                    isinstance(value, list)
                    and value
                    and all(isinstance(v, int | float) and v >= 0 for v in value)
                ):
                    raise ValueError("webhook_retry_seconds: a non-empty list of seconds")
                values[name] = tuple(float(v) for v in value)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name}: a non-negative number is needed")
                if name in self.RATES and value > 1:
                    raise ValueError(f"{name}: a rate between 0 and 1 is needed")
                values[name] = float(value)
        return replace(self, **values)

    def as_json(self) -> dict:
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["webhook_retry_seconds"] = list(self.webhook_retry_seconds)
        return data


@dataclass
class SandboxConfig:
    """Everything a sandbox process is started with (``python -m sandbox --help``)."""

    db_path: str = "var/sandbox.sqlite3"
    # Key id → secret. Each key sees only the merchants registered under it.
    keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_KEY_ID: DEFAULT_SECRET})
    seed: int = 1
    settings: Settings = field(default_factory=Settings)
    # The clock starts at this time (microseconds since the epoch), or at the real time.
    start_at: int | None = None
    clock_frozen: bool = False
    # Background work of the server (never of an in-process test app without lifespan).
    background: bool = True
    tick_seconds: float = 1.0
    webhook_poll_seconds: float = 0.5
    webhook_timeout_seconds: float = 10.0
