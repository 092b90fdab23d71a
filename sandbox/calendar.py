"""Beijing time, the PRC business-day calendar and the settlement conventions of an acquirer.

Banks in mainland China close on public holidays and work some weekends instead (调休), so
"next business day" follows the State Council's schedule as the chinese-calendar package
knows it. For a year it does not know (it raises for those), only weekends are days off.

Times travel inside the sandbox as whole microseconds since the Unix epoch (UTC): exact to
compare, store and order, and free of time-zone mistakes. They are shown in Beijing time.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from chinese_calendar import constants

# The PRC has had no daylight saving since 1991: a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Transactions at or after the cut-off count towards the next trade date.
CUTOFF = time(23, 0)
# When a T+1 payout is expected in the merchant's account on its settlement date.
T1_ARRIVAL = time(10, 0)
# When a D0 payout is expected, on the day of the sales it carries.
D0_ARRIVAL = time(23, 30)
# No holiday run is anywhere near this long; the bound only guards against a loop.
MAX_DAYS_TO_NEXT_BUSINESS_DAY = 60


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a time without its UTC offset is ambiguous")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def beijing(micros: int) -> datetime:
    return from_micros(micros).astimezone(BEIJING)


def format_time(micros: int | None) -> str | None:
    """RFC 3339 in Beijing time, with fractions of a second only when there are some."""
    if micros is None:
        return None
    return beijing(micros).isoformat()


def parse_time(text: str) -> int:
    """An RFC 3339 time with an explicit offset; anything else raises ValueError."""
    if not isinstance(text, str) or len(text) < 20:
        raise ValueError("not an RFC 3339 time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time without its UTC offset is ambiguous")
    return to_micros(moment)


def at_beijing(day: date, clock_time: time) -> int:
    return to_micros(datetime.combine(day, clock_time, tzinfo=BEIJING))


def beijing_date(micros: int) -> date:
    return beijing(micros).date()


def trade_date(micros: int) -> date:
    """The day a transaction counts for: its Beijing date, or the next one after the cut-off."""
    moment = beijing(micros)
    if moment.time() >= CUTOFF:
        return moment.date() + timedelta(days=1)
    return moment.date()


def cutoff_of(day: date) -> int:
    """The moment trade date ``day`` closes: 23:00 Beijing time that day."""
    return at_beijing(day, CUTOFF)


@dataclass(frozen=True)
class BusinessCalendar:
    """The PRC calendar of bank business days: holidays, working weekends, known years."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    known_years: frozenset[int]

    @classmethod
    def from_library(cls) -> "BusinessCalendar":
        holidays = frozenset(constants.holidays)
        workdays = frozenset(constants.workdays)
        years = frozenset(day.year for day in holidays | workdays)
        return cls(holidays=holidays, workdays=workdays, known_years=years)

    def is_business_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def is_public_holiday(self, day: date) -> bool:
        """A holiday of the State Council's schedule, not merely a weekend."""
        return day in self.holidays

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        candidate = day
        for _ in range(MAX_DAYS_TO_NEXT_BUSINESS_DAY):
            candidate += timedelta(days=1)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"no business day within {MAX_DAYS_TO_NEXT_BUSINESS_DAY} days of {day}")

    def after_holiday(self, day: date) -> bool:
        """Whether ``day`` ends a run of days off that held a public holiday: banks work
        through a backlog then, and transfers run late more often."""
        candidate = day - timedelta(days=1)
        for _ in range(MAX_DAYS_TO_NEXT_BUSINESS_DAY):
            if self.is_business_day(candidate):
                return False
            if self.is_public_holiday(candidate):
                return True
            candidate -= timedelta(days=1)
        return False


PRC_CALENDAR = BusinessCalendar.from_library()
