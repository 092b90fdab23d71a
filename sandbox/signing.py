"""Request signing (portal → acquirer) and webhook signing (acquirer → portal), exactly as
docs/acquirer-api.md defines them. The worked examples on that page are this module's test
vectors."""

import hashlib
import hmac
import secrets

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
# X-Timestamp and a webhook's t may be this far from the receiver's clock, either way.
TOLERANCE_SECONDS = 300


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes):
    """METHOD, path and query as on the request line, X-Timestamp, X-Nonce and the body's
    SHA-256, joined by single line feeds with none at the end."""
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, body_sha256(body)])


def hmac_hex(secret: str, message: str | bytes) -> str:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def request_signature(
    secret: str, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    return hmac_hex(secret, canonical_string(method, path_with_query, timestamp, nonce, body))


def signed_headers(
    *,
    key_id: str,
    secret: str,
    method: str,
    path_with_query: str,
    body: bytes = b"",
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers a client sends; a fresh random nonce unless one is given."""
    nonce = nonce or secrets.token_hex(16)
    stamp = str(timestamp)
    return {
        "X-Acquirer-Key": key_id,
        "X-Timestamp": stamp,
        "X-Nonce": nonce,
        "X-Signature": request_signature(secret, method, path_with_query, stamp, nonce, body),
    }


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Acquirer-Signature value: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>."""
    digest = hmac_hex(secret, str(timestamp).encode("ascii") + b"." + body)
    return f"t={timestamp},v1={digest}"


def webhook_signature_valid(
    secret: str, header: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver checks: a well-formed header, a ``t`` within ``tolerance`` seconds of
    ``now`` either way, and a v1 that matches in constant time."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isascii() or not stamp.isdigit() or not given:
        return False
    if abs(now - int(stamp)) > tolerance:
        return False
    expected = hmac_hex(secret, stamp.encode("ascii") + b"." + body)
    return signatures_match(expected, given)
