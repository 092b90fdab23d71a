import math
from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def minutes(value: timedelta) -> int:
    """Whole minutes in a duration, rounded up: "try again in 30 minutes", never "in 0"."""
    return max(1, math.ceil(value.total_seconds() / 60))
