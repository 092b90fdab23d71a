"""Business days and settlement dates (``settlements.calendar``), and the calendar services.

The real 2026 expectations below were checked against chinese_calendar.constants:
National Day: holidays Thu Oct 1 – Wed Oct 7, working days Sun Sep 20 and Sat Oct 10;
Mid-autumn: holidays Fri Sep 25 – Sun Sep 27; Spring Festival: holidays Sun Feb 15 – Mon Feb 23,
working days Sat Feb 14 and Sat Feb 28. The test database holds 2004–2026, seeded by the
post_migrate hook; 2027 is not published yet.
"""

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from settlements import calendar
from settlements.calendar import BusinessCalendar, business_calendar
from settlements.models import CalendarDay, CalendarYear
from settlements.services import calendar_day_saved, calendar_seed_from_library
from tests.factories import FeeScheduleFactory

D = Decimal
BEIJING = timedelta(hours=8)


def beijing(*args) -> datetime:
    """An aware UTC datetime for a Beijing wall-clock time."""
    return (datetime(*args) - BEIJING).replace(tzinfo=UTC)


def t1_schedule():
    return FeeScheduleFactory.build()


def d0_schedule(**overrides):
    values = {
        "settlement_cycle": "d0",
        "d0_surcharge_rate": D("0.0010"),
        "d0_daily_limit": D("50000.00"),
        "d0_window_start": time(8, 0),
        "d0_window_end": time(22, 0),
    }
    values.update(overrides)
    return FeeScheduleFactory.build(**values)


@pytest.fixture
def fresh_warnings(monkeypatch):
    """The missing-year warning is logged once per process; start each test with none sent."""
    monkeypatch.setattr(calendar, "_warned_years", set())


# -- The real, seeded calendar ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trade", "settles"),
    [
        # National Day 2026
        (date(2026, 9, 30), date(2026, 10, 8)),  # Wed before the holiday → Thu after it
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 10, 7), date(2026, 10, 8)),
        (date(2026, 10, 9), date(2026, 10, 10)),  # Fri → the working Saturday
        (date(2026, 10, 10), date(2026, 10, 12)),  # working Sat → Mon
        (date(2026, 9, 19), date(2026, 9, 20)),  # Sat → the working Sunday
        (date(2026, 9, 20), date(2026, 9, 21)),
        (date(2026, 9, 24), date(2026, 9, 28)),  # Thu → Mid-autumn Fri–Sun → Mon
        # Spring Festival 2026
        (date(2026, 2, 13), date(2026, 2, 14)),  # Fri → the working Saturday
        (date(2026, 2, 14), date(2026, 2, 24)),  # working Sat → over nine days off → Tue
        (date(2026, 2, 18), date(2026, 2, 24)),
        (date(2026, 2, 27), date(2026, 2, 28)),  # Fri → the working Saturday
        (date(2026, 2, 28), date(2026, 3, 2)),
        # New Year 2026: Jan 1–3 off, Sun Jan 4 worked
        (date(2025, 12, 31), date(2026, 1, 4)),
        # an ordinary week
        (date(2026, 11, 26), date(2026, 11, 27)),
        (date(2026, 11, 27), date(2026, 11, 30)),
    ],
)
def test_t1_settlement_date_follows_the_official_holidays_and_adjusted_working_days(trade, settles):
    occurred_at = beijing(trade.year, trade.month, trade.day, 14, 0)

    assert calendar.settlement_for(t1_schedule(), occurred_at) == ("t1", settles)
    assert business_calendar().next_business_day(trade) == settles


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 9, 20), True),  # Sunday, worked
        (date(2026, 10, 10), True),  # Saturday, worked
        (date(2026, 2, 14), True),
        (date(2026, 2, 28), True),
        (date(2026, 10, 5), False),  # Monday, holiday
        (date(2026, 2, 23), False),
        (date(2026, 10, 11), False),  # ordinary Sunday
        (date(2026, 11, 26), True),  # ordinary Thursday
    ],
)
def test_seeded_calendar_knows_2026_holidays_and_adjusted_working_days(day, business):
    assert business_calendar().is_business_day(day) is business


@pytest.mark.django_db
def test_seeded_calendar_covers_2004_to_2026_and_no_other_year():
    known = business_calendar().known_years

    assert known == frozenset(range(2004, 2027))


@pytest.mark.django_db
def test_seeded_calendar_agrees_with_the_library_on_every_day_from_2004_to_2026():
    seeded = business_calendar()
    day, disagreements = date(2004, 1, 1), []
    while day <= date(2026, 12, 31):
        if seeded.is_business_day(day) != chinese_calendar.is_workday(day):
            disagreements.append(day)
        day += timedelta(days=1)

    assert disagreements == []


@pytest.mark.django_db
def test_property_seeded_calendar_matches_the_library_on_random_days():
    seeded = business_calendar()

    @hypothesis_settings(max_examples=500, deadline=None)
    @given(day=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 31)))
    def matches(day):
        assert seeded.is_business_day(day) is chinese_calendar.is_workday(day)

    matches()


# -- Cut-off ------------------------------------------------------------------------------------


def test_transaction_just_before_the_cutoff_counts_for_its_own_day():
    assert calendar.trade_date(beijing(2026, 11, 26, 22, 59, 59)) == date(2026, 11, 26)


def test_transaction_at_the_cutoff_counts_for_the_next_day():
    assert calendar.trade_date(beijing(2026, 11, 26, 23, 0, 0)) == date(2026, 11, 27)


@pytest.mark.parametrize(
    ("utc", "trade"),
    [
        ("2026-11-26T14:59:59+00:00", date(2026, 11, 26)),
        ("2026-11-26T15:00:00+00:00", date(2026, 11, 27)),  # 23:00 in Beijing
        ("2026-11-25T16:00:00+00:00", date(2026, 11, 26)),  # 00:00 in Beijing, 25th in UTC
        ("2026-11-26T23:00:00-08:00", date(2026, 11, 27)),  # Nov 27 15:00 in Beijing
    ],
)
def test_trade_date_is_taken_in_beijing_time_whatever_the_offset(utc, trade):
    assert calendar.trade_date(datetime.fromisoformat(utc)) == trade


def test_cutoff_follows_the_setting(settings):
    settings.SETTLEMENT_CUTOFF = time(22, 0)

    assert calendar.trade_date(beijing(2026, 11, 26, 21, 59, 59)) == date(2026, 11, 26)
    assert calendar.trade_date(beijing(2026, 11, 26, 22, 0)) == date(2026, 11, 27)


@pytest.mark.django_db
def test_sale_after_the_cutoff_on_a_thursday_settles_on_monday():
    # Counts for Friday Nov 27, so T+1 is the next business day after Friday.
    assert calendar.settlement_for(t1_schedule(), beijing(2026, 11, 26, 23, 0)) == (
        "t1",
        date(2026, 11, 30),
    )
    assert calendar.settlement_for(t1_schedule(), beijing(2026, 11, 26, 22, 59, 59)) == (
        "t1",
        date(2026, 11, 27),
    )


@pytest.mark.django_db
def test_sale_after_the_cutoff_before_a_holiday_settles_after_the_holiday():
    # Sep 30 23:30 counts for Oct 1 (holiday); T+1 is the first business day after: Oct 8.
    assert calendar.settlement_for(t1_schedule(), beijing(2026, 9, 30, 23, 30)) == (
        "t1",
        date(2026, 10, 8),
    )


# -- Expected arrival ---------------------------------------------------------------------------


def test_t1_arrival_is_the_arrival_time_in_beijing_stored_as_utc():
    arrival = calendar.expected_arrival(date(2026, 10, 8), "t1")

    assert arrival == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    assert arrival.utcoffset() is not None


def test_d0_arrival_is_the_d0_arrival_time_in_beijing():
    arrival = calendar.expected_arrival(date(2026, 10, 4), "d0")

    assert arrival == datetime(2026, 10, 4, 15, 30, tzinfo=UTC)  # 23:30+08:00


def test_arrival_times_follow_the_settings(settings):
    settings.SETTLEMENT_ARRIVAL_TIME = time(9, 30)
    settings.SETTLEMENT_D0_ARRIVAL_TIME = time(7, 0)

    assert calendar.expected_arrival(date(2026, 10, 8), "t1") == datetime(
        2026, 10, 8, 1, 30, tzinfo=UTC
    )
    # 07:00 Beijing is still the evening before in UTC.
    assert calendar.expected_arrival(date(2026, 10, 8), "d0") == datetime(
        2026, 10, 7, 23, 0, tzinfo=UTC
    )


# -- D0 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        beijing(2026, 10, 4, 10, 0),  # Sunday in the National Day holiday
        beijing(2026, 11, 29, 8, 0),  # ordinary Sunday, the moment the window opens
        beijing(2026, 11, 26, 21, 59, 59),  # Thursday, the last second of the window
    ],
)
def test_d0_inside_the_window_and_limit_settles_the_same_beijing_day(occurred_at):
    # No calendar is consulted for D0: passing one that would fail proves it.
    cycle, settles = calendar.settlement_for(
        d0_schedule(), occurred_at, amount=D("100.00"), calendar=object()
    )

    assert (cycle, settles) == ("d0", calendar.local(occurred_at).date())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("occurred_at", "settles"),
    [
        (beijing(2026, 10, 4, 7, 59, 59), date(2026, 10, 8)),  # before the window opens
        (beijing(2026, 10, 4, 22, 0), date(2026, 10, 8)),  # the window's end is exclusive
        (beijing(2026, 11, 26, 22, 30), date(2026, 11, 27)),
    ],
)
def test_d0_outside_the_window_falls_back_to_t1(occurred_at, settles):
    assert calendar.settlement_for(d0_schedule(), occurred_at, amount=D("100.00")) == (
        "t1",
        settles,
    )


@pytest.mark.django_db
def test_d0_over_the_daily_limit_falls_back_to_t1():
    result = calendar.settlement_for(
        d0_schedule(d0_daily_limit=D("1000.00")),
        beijing(2026, 10, 4, 10, 0),
        amount=D("100.00"),
        d0_used=D("900.01"),
    )

    assert result == ("t1", date(2026, 10, 8))


def test_d0_exactly_at_the_daily_limit_is_still_d0():
    result = calendar.settlement_for(
        d0_schedule(d0_daily_limit=D("1000.00")),
        beijing(2026, 10, 4, 10, 0),
        amount=D("100.00"),
        d0_used=D("900.00"),
    )

    assert result == ("d0", date(2026, 10, 4))


def test_d0_without_a_limit_is_always_d0_inside_the_window():
    result = calendar.settlement_for(
        d0_schedule(d0_daily_limit=None),
        beijing(2026, 10, 4, 10, 0),
        amount=D("9999999999.99"),
        d0_used=D("999999999.99"),
    )

    assert result == ("d0", date(2026, 10, 4))


@pytest.mark.django_db
def test_d0_window_reaching_past_the_cutoff_stops_at_the_cutoff():
    schedule = d0_schedule(d0_window_end=time(23, 59))

    assert calendar.settlement_for(schedule, beijing(2026, 11, 26, 22, 59), amount=D("1")) == (
        "d0",
        date(2026, 11, 26),
    )
    # 23:30 counts for Friday the 27th: T+1 after it is Monday.
    assert calendar.settlement_for(schedule, beijing(2026, 11, 26, 23, 30), amount=D("1")) == (
        "t1",
        date(2026, 11, 30),
    )


@pytest.mark.django_db
def test_t1_schedule_never_settles_d0():
    assert calendar.settlement_for(t1_schedule(), beijing(2026, 11, 26, 10, 0)) == (
        "t1",
        date(2026, 11, 27),
    )


# -- A year the library does not know -----------------------------------------------------------


@pytest.mark.django_db
def test_2027_without_data_falls_back_to_weekends_and_warns_once(caplog, fresh_warnings):
    seeded = business_calendar()

    with caplog.at_level(logging.WARNING, logger="settlements.calendar"):
        first = seeded.next_business_day(date(2026, 12, 31))
        second = seeded.next_business_day(date(2027, 1, 1))

    assert (first, second) == (date(2027, 1, 1), date(2027, 1, 4))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2027" in warnings[0].getMessage()
    assert warnings[0].name == "settlements.calendar"


@pytest.mark.django_db
def test_settlement_and_arrival_work_for_2027_dates(fresh_warnings):
    # Fri Feb 5 2027 (Spring Festival week, not yet published): weekends only, so Monday.
    cycle, settles = calendar.settlement_for(t1_schedule(), beijing(2027, 2, 5, 14, 0))

    assert (cycle, settles) == ("t1", date(2027, 2, 8))
    assert calendar.expected_arrival(settles, cycle) == datetime(2027, 2, 8, 2, 0, tzinfo=UTC)
    assert calendar.settlement_for(d0_schedule(), beijing(2027, 2, 6, 10, 0), amount=D("1")) == (
        "d0",
        date(2027, 2, 6),
    )
    assert calendar.expected_arrival(date(2027, 2, 6), "d0") == datetime(
        2027, 2, 6, 15, 30, tzinfo=UTC
    )


@pytest.mark.django_db
def test_sale_after_the_cutoff_on_new_years_eve_2026_settles_in_2027(fresh_warnings):
    # Counts for Fri Jan 1 2027; without 2027 data the next business day is Mon Jan 4.
    assert calendar.settlement_for(t1_schedule(), beijing(2026, 12, 31, 23, 30)) == (
        "t1",
        date(2027, 1, 4),
    )


@pytest.mark.django_db
def test_staff_entering_2027_holidays_changes_the_answer(caplog, fresh_warnings):
    assert business_calendar().next_business_day(date(2026, 12, 31)) == date(2027, 1, 1)

    day = CalendarDay.objects.create(
        date=date(2027, 1, 1), kind=CalendarDay.Kind.HOLIDAY, name="元旦", name_en="New Year"
    )
    calendar_day_saved(day=day)

    refreshed = business_calendar()
    caplog.clear()
    calendar._warned_years.clear()  # would a 2027 date still warn? It must not.
    with caplog.at_level(logging.WARNING, logger="settlements.calendar"):
        assert refreshed.next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert CalendarYear.objects.get(year=2027).source == CalendarYear.Source.STAFF
    assert refreshed.covers(2027)
    assert [r for r in caplog.records if "2027" in r.getMessage()] == []


@pytest.mark.django_db
def test_staff_adjusted_working_day_in_2027_counts_as_a_business_day(fresh_warnings):
    day = CalendarDay.objects.create(date=date(2027, 1, 2), kind=CalendarDay.Kind.WORKDAY)
    calendar_day_saved(day=day)

    assert business_calendar().next_business_day(date(2027, 1, 1)) == date(2027, 1, 2)


@pytest.mark.django_db
def test_calendar_is_cached_until_forgotten():
    before = business_calendar()
    CalendarDay.objects.filter(date=date(2026, 10, 7)).update(kind=CalendarDay.Kind.WORKDAY)

    assert business_calendar() == before
    calendar.forget_calendar()
    assert business_calendar().is_business_day(date(2026, 10, 7)) is True


# -- Seeding from the library -------------------------------------------------------------------


def calendar_rows():
    return (
        list(CalendarYear.objects.order_by("year").values_list("year", "source", "created_at")),
        list(
            CalendarDay.objects.order_by("date").values_list(
                "pk", "date", "kind", "name", "name_en", "source", "updated_at"
            )
        ),
    )


@pytest.mark.django_db
def test_seed_adds_a_missing_year_with_the_librarys_days():
    CalendarDay.objects.filter(date__year=2026).delete()
    CalendarYear.objects.filter(year=2026).delete()

    added = calendar_seed_from_library()

    assert added == [2026]
    assert CalendarYear.objects.get(year=2026).source == CalendarYear.Source.LIBRARY
    days = {
        (d.date, d.kind, d.name, d.name_en, d.source)
        for d in CalendarDay.objects.filter(date__year=2026)
    }
    assert len(days) == 39  # 33 holidays, 6 adjusted working days
    assert (date(2026, 10, 1), "holiday", "国庆节", "National Day", "library") in days
    assert (date(2026, 9, 20), "workday", "国庆节", "National Day", "library") in days
    assert (date(2026, 2, 15), "holiday", "春节", "Spring Festival", "library") in days
    assert business_calendar().next_business_day(date(2026, 9, 30)) == date(2026, 10, 8)


@pytest.mark.django_db
def test_every_seeded_day_has_its_chinese_and_english_name():
    names = set(CalendarDay.objects.values_list("name", "name_en"))

    assert names == {
        ("元旦", "New Year's Day"),
        ("春节", "Spring Festival"),
        ("清明节", "Tomb-sweeping Day"),
        ("劳动节", "Labour Day"),
        ("端午节", "Dragon Boat Festival"),
        ("中秋节", "Mid-autumn Festival"),
        ("国庆节", "National Day"),
        ("中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日", "Anti-Fascist 70th Day"),
    }


@pytest.mark.django_db
def test_seed_twice_adds_nothing_and_changes_no_row():
    before = calendar_rows()

    assert calendar_seed_from_library() == []
    assert calendar_seed_from_library() == []
    assert calendar_rows() == before


@pytest.mark.django_db
def test_seed_for_a_year_the_library_does_not_know_does_nothing():
    before = calendar_rows()

    assert calendar_seed_from_library(years=[2027, 2030]) == []
    assert calendar_rows() == before


@pytest.mark.django_db
def test_seed_leaves_a_year_staff_entered_alone():
    CalendarDay.objects.filter(date__year=2026).delete()
    CalendarYear.objects.filter(year=2026).delete()
    staff_day = CalendarDay.objects.create(
        date=date(2026, 10, 9), kind=CalendarDay.Kind.HOLIDAY, name="国庆节"
    )
    calendar_day_saved(day=staff_day)

    assert calendar_seed_from_library() == []
    assert CalendarYear.objects.get(year=2026).source == CalendarYear.Source.STAFF
    assert list(CalendarDay.objects.filter(date__year=2026).values_list("date", flat=True)) == [
        date(2026, 10, 9)
    ]


@pytest.mark.django_db
def test_seed_never_overwrites_a_day_staff_edited():
    # Staff turned the library's National Day holiday into a working day; the year row was
    # then lost (deleted by hand), so the seed runs for 2026 again.
    CalendarDay.objects.filter(date=date(2026, 10, 7)).update(
        kind=CalendarDay.Kind.WORKDAY, source=CalendarYear.Source.STAFF, name="加班"
    )
    CalendarYear.objects.filter(year=2026).delete()

    assert calendar_seed_from_library() == [2026]
    edited = CalendarDay.objects.get(date=date(2026, 10, 7))
    assert (edited.kind, edited.source, edited.name) == ("workday", "staff", "加班")
    assert CalendarDay.objects.filter(date__year=2026).count() == 39


# -- Properties of any calendar -----------------------------------------------------------------

SPAN = {"min_value": date(2003, 12, 1), "max_value": date(2028, 1, 31)}


@st.composite
def calendars(draw):
    holidays = draw(st.frozensets(st.dates(**SPAN), max_size=200))
    workdays = draw(st.frozensets(st.dates(**SPAN), max_size=60))
    years = draw(st.frozensets(st.integers(min_value=2003, max_value=2028)))
    return BusinessCalendar(holidays, workdays, years)


def reference_is_business_day(cal: BusinessCalendar, day: date) -> bool:
    if day in cal.workdays:
        return True
    return day not in cal.holidays and day.isoweekday() <= 5


@hypothesis_settings(max_examples=300, deadline=None)
@given(cal=calendars(), day=st.dates(**SPAN))
def test_property_next_business_day_is_the_first_business_day_after(cal, day):
    following = cal.next_business_day(day)

    assert following > day
    assert cal.is_business_day(following)
    assert reference_is_business_day(cal, following)
    between = day + timedelta(days=1)
    while between < following:
        assert not cal.is_business_day(between)
        assert not reference_is_business_day(cal, between)
        between += timedelta(days=1)


@hypothesis_settings(max_examples=300, deadline=None)
@given(cal=calendars(), first=st.dates(**SPAN), second=st.dates(**SPAN))
def test_property_next_business_day_is_monotonic(cal, first, second):
    earlier, later = sorted([first, second])

    assert cal.next_business_day(earlier) <= cal.next_business_day(later)


@hypothesis_settings(max_examples=300, deadline=None)
@given(cal=calendars(), day=st.dates(**SPAN))
def test_property_on_or_after_is_the_day_itself_exactly_when_it_is_a_business_day(cal, day):
    result = cal.business_day_on_or_after(day)

    assert (result == day) is reference_is_business_day(cal, day)
    assert result >= day
    assert cal.is_business_day(result)
    assert result == (day if reference_is_business_day(cal, day) else cal.next_business_day(day))


@hypothesis_settings(max_examples=300, deadline=None)
@given(cal=calendars(), day=st.dates(**SPAN))
def test_property_a_workday_entry_wins_and_a_holiday_entry_closes(cal, day):
    with_workday = BusinessCalendar(cal.holidays | {day}, cal.workdays | {day}, cal.known_years)
    with_holiday = BusinessCalendar(cal.holidays | {day}, cal.workdays - {day}, cal.known_years)

    assert with_workday.is_business_day(day) is True
    assert with_holiday.is_business_day(day) is False


def test_next_business_day_refuses_a_calendar_with_no_business_day_in_sight():
    closed = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(100))
    cal = BusinessCalendar(closed, frozenset(), frozenset([2026]))

    with pytest.raises(ValueError, match="2026-01-01"):
        cal.next_business_day(date(2026, 1, 1))
