import math
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.translation import get_language

from portal import onboarding

register = template.Library()


@register.filter
def minutes(value: timedelta) -> int:
    """Whole minutes in a duration, rounded up: "try again in 30 minutes", never "in 0"."""
    return max(1, math.ceil(value.total_seconds() / 60))


@register.filter
def yuan(value) -> str:
    """¥1,234.50 — money always with two decimals."""
    if value in (None, ""):
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"¥{amount:,.2f}"


@register.filter
def yuan_short(value) -> str:
    """A chart's scale: ¥5,000 · ¥2万 in Chinese, ¥20k in English."""
    amount = Decimal(value or 0)
    if amount >= 10_000:
        if (get_language() or "").startswith("zh"):
            return f"¥{amount / 10_000:.4g}万"
        return f"¥{amount / 1_000:.4g}k"
    return f"¥{amount:,.0f}"


@register.filter
def percent(rate) -> str:
    """A fee rate stored as a fraction, as merchants read it: 0.0038 → 0.38%."""
    if rate in (None, ""):
        return ""
    value = Decimal(rate) * 100
    shown = value.quantize(Decimal("0.01"))
    if shown != value:  # keep a third decimal rather than misstate a rate like 0.125%
        shown = value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return f"{shown}%"


@register.filter
def fix_item_label(key: str) -> str:
    return onboarding.fix_item_label(key)
