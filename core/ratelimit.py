"""Rate limits for the forms an attacker would hammer: sign-up, log-in, password reset and
one-time codes. Counted in the cache (Redis in production, so every web process shares the
count) in fixed windows, per client address or per account.

django-axes still locks an *account* after repeated wrong passwords; the limit here stops one
address from trying many accounts (password spraying) or flooding sign-ups and e-mails.
Limits live in ``settings.RATE_LIMITS`` as "count/period", e.g. "10/h", "30/10m".
"""

import hashlib
import re
import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from core.http import client_ip

PERIOD_RE = re.compile(r"^(\d+)/(\d*)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, text: str) -> "Rate":
        match = PERIOD_RE.match(text)
        if not match:
            raise ValueError(f"a rate looks like '10/h' or '30/10m', not {text!r}")
        count, multiple, unit = match.groups()
        return cls(int(count), int(multiple or 1) * UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (when refused)


def hit(scope: str, key: str) -> Verdict:
    """Count one attempt of ``scope`` by ``key`` (an address, an account) and say whether it is
    within ``settings.RATE_LIMITS[scope]``. The key is hashed: no address or login in the cache."""
    rate = Rate.parse(settings.RATE_LIMITS[scope])
    now = time.time()
    window = int(now // rate.period)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"ratelimit:{scope}:{digest}:{window}"
    if cache.add(cache_key, 1, timeout=rate.period + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(cache_key, 1, timeout=rate.period + 1)
            count = 1
    retry_after = max(1, int((window + 1) * rate.period - now))
    return Verdict(allowed=count <= rate.limit, retry_after=retry_after)


def too_many(request, verdict: Verdict, *, json: bool = False):
    minutes = max(1, round(verdict.retry_after / 60))
    message = ngettext(
        "Too many attempts from here. Try again in %(minutes)d minute.",
        "Too many attempts from here. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    if json:
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def limit_posts(scope: str, *, json: bool = False):
    """Refuse a view's POSTs from one client address beyond ``RATE_LIMITS[scope]`` with 429 (a
    page, or JSON for ``json``); other methods pass."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                verdict = hit(scope, client_ip(request) or "unknown")
                if not verdict.allowed:
                    return too_many(request, verdict, json=json)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
