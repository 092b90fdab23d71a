"""Business days and when money arrives.

Banks in mainland China close on public holidays and open on some weekends instead (调休),
so "next business day" needs the State Council's schedule: the ``CalendarDay`` table, seeded
from chinese-calendar and edited by staff. A year without data falls back to "Saturdays and
Sundays are off" and says so in the log; the holiday library itself raises for such years,
so nothing here asks it about dates, only for the days it knows.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from chinese_calendar import constants
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from settlements.models import CalendarDay, CalendarYear

logger = logging.getLogger(__name__)

CACHE_KEY = "settlements:business-calendar:v1"
CACHE_SECONDS = 10 * 60
# No holiday run is anywhere near this long; the bound only guards against a corrupt table.
MAX_DAYS_TO_NEXT_BUSINESS_DAY = 60

_warned_years: set[int] = set()

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[date]
    workdays: frozenset[date]
    known_years: frozenset[int]

    def covers(self, year: int) -> bool:
        return year in self.known_years

    def is_business_day(self, day: date) -> bool:
        if not self.covers(day.year) and day.year not in _warned_years:
            _warned_years.add(day.year)
            logger.warning(
                "The business-day calendar has no data for %s: treating only weekends as "
                "days off. Enter that year's holidays in the admin.",
                day.year,
            )
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        candidate = day
        for _ in range(MAX_DAYS_TO_NEXT_BUSINESS_DAY):
            candidate += timedelta(days=1)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"no business day within {MAX_DAYS_TO_NEXT_BUSINESS_DAY} days of {day}")

    def business_day_on_or_after(self, day: date) -> date:
        return day if self.is_business_day(day) else self.next_business_day(day)


def business_calendar() -> BusinessCalendar:
    """The calendar from the database, cached briefly; edits call ``forget_calendar()``."""
    cached = cache.get(CACHE_KEY)
    if cached is None:
        holidays, workdays = [], []
        for day, kind in CalendarDay.objects.values_list("date", "kind"):
            (holidays if kind == CalendarDay.Kind.HOLIDAY else workdays).append(day)
        years = list(CalendarYear.objects.values_list("year", flat=True))
        cached = (holidays, workdays, years)
        cache.set(CACHE_KEY, cached, CACHE_SECONDS)
    holidays, workdays, years = cached
    return BusinessCalendar(frozenset(holidays), frozenset(workdays), frozenset(years))


def forget_calendar() -> None:
    cache.delete(CACHE_KEY)


def library_calendar() -> dict[int, list[tuple[date, str, str, str]]]:
    """What chinese-calendar knows, by year: (date, kind, Chinese name, English name)."""
    years: dict[int, list[tuple[date, str, str, str]]] = {}
    for table, kind in ((constants.holidays, "holiday"), (constants.workdays, "workday")):
        for day, name in table.items():
            english = str(name)
            years.setdefault(day.year, []).append(
                (day, kind, HOLIDAY_NAMES_ZH.get(english, english), english)
            )
    return years


# -- When money arrives -------------------------------------------------------------------------


def local(moment: datetime) -> datetime:
    return timezone.localtime(moment)


def trade_date(occurred_at: datetime) -> date:
    """The day a transaction counts for: its Beijing date, or the next after the cut-off."""
    moment = local(occurred_at)
    if moment.time() >= settings.SETTLEMENT_CUTOFF:
        return moment.date() + timedelta(days=1)
    return moment.date()


def at_local_time(day: date, moment: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, moment))


def expected_arrival(settlement_date: date, cycle: str) -> datetime:
    """When a payout for ``settlement_date`` should be in the merchant's bank account."""
    arrival = (
        settings.SETTLEMENT_D0_ARRIVAL_TIME if cycle == "d0" else settings.SETTLEMENT_ARRIVAL_TIME
    )
    return at_local_time(settlement_date, arrival)


def d0_applies(schedule, occurred_at: datetime, *, amount: Decimal, d0_used: Decimal) -> bool:
    """Whether a sale settles the same day: a D0 schedule, inside its window and daily limit."""
    if schedule is None or schedule.settlement_cycle != "d0":
        return False
    moment = local(occurred_at).time()
    if not (schedule.d0_window_start <= moment < schedule.d0_window_end):
        return False
    if moment >= settings.SETTLEMENT_CUTOFF:
        return False
    limit = schedule.d0_daily_limit
    return limit is None or d0_used + amount <= limit


def settlement_for(
    schedule,
    occurred_at: datetime,
    *,
    amount: Decimal = Decimal("0"),
    d0_used: Decimal = Decimal("0"),
    calendar: BusinessCalendar | None = None,
) -> tuple[str, date]:
    """(cycle, settlement date) for a transaction: D0 the same day when it applies, else T+1 —
    the first business day after the trade date."""
    if d0_applies(schedule, occurred_at, amount=amount, d0_used=d0_used):
        return "d0", local(occurred_at).date()
    calendar = calendar or business_calendar()
    return "t1", calendar.next_business_day(trade_date(occurred_at))
