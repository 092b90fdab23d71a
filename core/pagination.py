import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination for every list: stable under inserts and cheap on big tables.

    Views set ``ordering`` to an indexed column; the default is newest first by primary key.
    """

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # DRF filters on the position in a cursor without checking it: a forged one ("p=x",
        # a date that does not exist, year 1 in UTC+8) would fail only when the query runs,
        # and differently on each database. It is checked against the ordering field first.
        try:
            self._check_position(queryset, request, view)
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, OverflowError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc

    def _check_position(self, queryset, request, view) -> None:
        cursor = self.decode_cursor(request)
        if cursor is None or cursor.position is None:
            return
        name = self.get_ordering(request, queryset, view)[0].lstrip("-")
        meta = queryset.model._meta
        value = (meta.pk if name == "pk" else meta.get_field(name)).to_python(cursor.position)
        if isinstance(value, datetime):
            value.astimezone(UTC)  # year 1 in UTC+8 is before the first UTC moment


class InvalidCursor(ValueError):
    pass


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str | None
    is_first: bool


def keyset_page(queryset, *, keys: tuple[str, ...], cursor: str | None, size: int) -> KeysetPage:
    """One page of ``queryset`` ordered by ``keys`` descending (the last key unique, usually
    ``pk``), continuing after ``cursor``. Unlike OFFSET, the cost of a page does not grow with
    how far the merchant has scrolled, and rows arriving meanwhile never shift a page.

    Raises ``InvalidCursor`` for a cursor this function did not make.
    """
    queryset = queryset.order_by(*[f"-{key}" for key in keys])
    if cursor:
        values = decode_cursor(queryset.model, keys, cursor)
        after = Q()
        for index in range(len(keys)):
            step = Q(**{f"{keys[index]}__lt": values[index]})
            for earlier in range(index):
                step &= Q(**{keys[earlier]: values[earlier]})
            after |= step
        queryset = queryset.filter(after)
    rows = list(queryset[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor([getattr(rows[-1], key) for key in keys])
    return KeysetPage(rows=rows, next_cursor=next_cursor, is_first=not cursor)


def encode_cursor(values: list) -> str:
    text = json.dumps(
        [value.isoformat() if hasattr(value, "isoformat") else value for value in values]
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(model, keys: tuple[str, ...], cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        fields = [model._meta.pk if key == "pk" else model._meta.get_field(key) for key in keys]
        values = [field.to_python(value) for field, value in zip(fields, raw, strict=True)]
        for value in values:
            if isinstance(value, datetime):
                value.astimezone(UTC)  # year 1 in UTC+8 is before the first UTC moment
        return values
    except (ValueError, TypeError, UnicodeError, ValidationError, OverflowError) as exc:
        raise InvalidCursor(str(exc)) from exc
