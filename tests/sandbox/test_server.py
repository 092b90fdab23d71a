"""``python -m sandbox`` as its own process on a real socket: it starts from environment
variables, answers signed calls, and its background sender delivers signed webhooks."""

import http.server
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sandbox.signing import signed_headers, webhook_signature_valid
from tests.sandbox.conftest import MID, merchant_payload

REPO = Path(__file__).resolve().parents[2]
KEY_ID, SECRET = "ak_server_test", "sk_server_test_secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Hooks(http.server.BaseHTTPRequestHandler):
    """The portal's webhook endpoint: records each request and answers 204."""

    received: "queue.Queue[tuple[dict, bytes]]"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    received: queue.Queue = queue.Queue()
    handler = type("Handler", (Hooks,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/acquirer/", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(tmp_path, webhook_receiver):
    url, received = webhook_receiver
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PORT": str(port),
        "SANDBOX_DB": str(tmp_path / "server.sqlite3"),
        "SANDBOX_KEY_ID": KEY_ID,
        "SANDBOX_KEY_SECRET": SECRET,
        "SANDBOX_WEBHOOK_URL": url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--traffic-rate", "0", "--webhook-retry", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    output = []
    deadline = time.monotonic() + 30
    try:
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            output.append(line)
            if "Uvicorn running on" in line:
                break
        yield f"http://127.0.0.1:{port}", received
    except queue.Empty:
        pytest.fail("the sandbox did not start:\n" + "".join(output))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def signed(method: str, path: str, payload=None, **headers) -> dict:
    body = b"" if payload is None else json.dumps(payload).encode()
    signed_ = signed_headers(
        key_id=KEY_ID,
        secret=SECRET,
        method=method,
        path_with_query=path,
        body=body,
        timestamp=int(time.time()),
    )
    return {"content": body, "headers": {**signed_, **headers}}


def test_the_sandbox_serves_the_api_and_sends_webhooks_from_its_own_process(server):
    base, received = server
    with httpx.Client(base_url=base, timeout=10) as client:
        unsigned = client.get("/v1/transactions")
        registered = client.post(
            "/v1/merchants",
            **signed(
                "POST",
                "/v1/merchants",
                merchant_payload(),
                **{
                    "Idempotency-Key": "server-1",
                    "Content-Type": "application/json",
                },
            ),
        )
        terminal = {"terminal_id": "10000001", "serial_number": "SN1", "model": "PAX A920"}
        path = f"/v1/merchants/{MID}/terminals"
        added = client.post(path, **signed("POST", path, terminal))
        sale = client.post(
            "/_sandbox/transactions", json={"merchant_id": MID, "amount": "12.34"}
        ).json()
        feed = client.get("/v1/transactions", headers=signed("GET", "/v1/transactions")["headers"])

        # The background sender delivers within its poll interval; wait for that, no longer.
        headers, body = received.get(timeout=15)

    assert unsigned.status_code == 401
    assert "server" not in unsigned.headers
    assert registered.status_code == 201, registered.text
    assert added.status_code == 200
    assert [t["id"] for t in feed.json()["data"]] == [sale["id"]]
    event = json.loads(body)
    assert (event["type"], event["data"]) == ("transaction.created", sale)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert lowered["x-acquirer-key"] == KEY_ID
    assert webhook_signature_valid(
        SECRET, lowered["x-acquirer-signature"], body, now=int(time.time())
    )
