"""The sandbox's own state: one SQLite file (stdlib ``sqlite3``), in WAL mode.

The server answers requests from a thread pool and runs its simulation and webhook sender
beside them, so every thread gets its own connection, readers never block (WAL), and writers
take one process-wide lock and an IMMEDIATE transaction: a write is all or nothing, and two
writes never interleave (the idempotency table and the D0 limit rely on that).

Times are whole microseconds since the epoch (UTC) and money whole fen: both exact integers.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS merchants (
    merchant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mcc TEXT NOT NULL,
    region_code TEXT NOT NULL,
    fee_schedule TEXT NOT NULL,
    account TEXT NOT NULL,
    account_verified_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- Traffic is generated from traffic_from on; simulated_until is how far the simulation
    -- has come, generated_until the end of the last hour whose traffic exists.
    traffic_from INTEGER NOT NULL,
    simulated_until INTEGER NOT NULL,
    generated_until INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS merchants_key ON merchants (key_id);
CREATE TABLE IF NOT EXISTS account_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    account_masked TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
    terminal_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS terminals_merchant ON terminals (merchant_id, terminal_id);
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    type TEXT NOT NULL,
    original_id TEXT,
    channel TEXT NOT NULL,
    amount INTEGER NOT NULL,        -- fen, magnitude
    fee INTEGER NOT NULL,           -- fen, magnitude, as the acquirer charged it
    card_masked TEXT,
    rrn TEXT,
    trace_no TEXT,
    batch_no TEXT,
    auth_code TEXT,
    status TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,   -- when the acquirer has it: the feed's `since`
    trade_date TEXT NOT NULL,
    cycle TEXT NOT NULL,
    emitted INTEGER NOT NULL DEFAULT 0,  -- recorded yet (a follow-up may lie in the future)
    payout_id TEXT
);
CREATE INDEX IF NOT EXISTS transactions_feed ON transactions (emitted, recorded_at, id);
CREATE INDEX IF NOT EXISTS transactions_merchant
    ON transactions (merchant_id, emitted, recorded_at);
CREATE INDEX IF NOT EXISTS transactions_unsettled
    ON transactions (merchant_id, payout_id, status, trade_date);
CREATE INDEX IF NOT EXISTS transactions_payout ON transactions (payout_id, occurred_at, id);
CREATE INDEX IF NOT EXISTS transactions_original ON transactions (original_id);
CREATE INDEX IF NOT EXISTS transactions_d0 ON transactions (merchant_id, cycle, occurred_at);
CREATE TABLE IF NOT EXISTS payouts (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    settlement_date TEXT NOT NULL,
    cycle TEXT NOT NULL,
    gross INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    adjustment INTEGER NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason_code TEXT,
    reason TEXT,
    expected_at INTEGER NOT NULL,
    bank_reference TEXT,
    paid_at INTEGER,
    account_masked TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    returned_at INTEGER,
    open INTEGER NOT NULL DEFAULT 1,   -- still takes transactions at the next cut-off
    plan TEXT NOT NULL DEFAULT '[]',   -- the steps still to come, each {"at": micros, ...}
    next_step_at INTEGER,
    scenario TEXT
);
CREATE INDEX IF NOT EXISTS payouts_feed ON payouts (updated_at, id);
CREATE INDEX IF NOT EXISTS payouts_merchant ON payouts (merchant_id, settlement_date);
CREATE INDEX IF NOT EXISTS payouts_steps ON payouts (next_step_at);
CREATE INDEX IF NOT EXISTS payouts_date ON payouts (settlement_date);
CREATE TABLE IF NOT EXISTS payout_versions (
    payout_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (payout_id, updated_at)
);
CREATE TABLE IF NOT EXISTS disputes (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    amount INTEGER NOT NULL,
    evidence_due_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    evidence TEXT NOT NULL DEFAULT '[]',
    next_step_at INTEGER
);
CREATE INDEX IF NOT EXISTS disputes_feed ON disputes (updated_at, id);
CREATE INDEX IF NOT EXISTS disputes_steps ON disputes (next_step_at);
CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_age ON nonces (seen_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body BLOB NOT NULL,
    next_attempt_at INTEGER,            -- null once delivered
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (next_attempt_at, seq);
"""

TABLES = (
    "meta",
    "merchants",
    "account_changes",
    "terminals",
    "transactions",
    "payouts",
    "payout_versions",
    "disputes",
    "nonces",
    "idempotency",
    "events",
)


class Store:
    """The SQLite file, with a connection per thread and one writer at a time."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        with self._write_lock:
            self.connection().executescript(SCHEMA)

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # Autocommit mode: transactions are begun explicitly below, IMMEDIATE for writes.
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, the only one in the process; nested calls join it."""
        with self._write_lock:
            db = self.connection()
            if db.in_transaction:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads that take several queries."""
        db = self.connection()
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def reset(self) -> None:
        """Forget everything: every table emptied, counters back to the start."""
        with self.write() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
            db.execute("DELETE FROM sqlite_sequence")

    def close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()


def next_number(db: sqlite3.Connection, name: str) -> int:
    """1, 2, 3 … for counter ``name``, inside the caller's write transaction."""
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    number = int(row["value"]) + 1 if row else 1
    db.execute(
        "INSERT INTO meta (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, str(number)),
    )
    return number
