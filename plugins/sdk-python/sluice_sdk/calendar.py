"""Days since 1970-01-01, the wire form of ``date32`` columns (as the Rust SDK's ``calendar``).

``datetime.date`` does the same arithmetic for years 1 to 9999; these helpers work on the
plain ``int`` days of :meth:`Batch.raw` and refuse impossible dates instead of rolling over.
"""

from __future__ import annotations

from datetime import date

from .batch import _civil, _format_days

__all__ = ["EPOCH_ORDINAL", "days_from_civil", "civil_from_days", "parse_iso_date", "format_days", "format_seconds"]

#: ``date(1970, 1, 1).toordinal()``: ``date.toordinal() - EPOCH_ORDINAL`` is days since 1970.
EPOCH_ORDINAL = 719_163


def days_from_civil(year: int, month: int, day: int) -> int | None:
    """Days since 1970-01-01 of a real date in years 1 to 9999; ``None`` for month 13,
    day 0, 2021-02-29 and the like (never rolled over into the next month)."""
    try:
        return date(year, month, day).toordinal() - EPOCH_ORDINAL
    except (ValueError, TypeError, OverflowError):
        return None


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01 (any range)."""
    return _civil(days)


def parse_iso_date(text: str) -> int | None:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` text, if it names a real date."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not text.isascii():
        return None
    y, m, d = text[0:4], text[5:7], text[8:10]
    if not (y.isdigit() and m.isdigit() and d.isdigit()):
        return None
    return days_from_civil(int(y), int(m), int(d))


def format_days(days: int) -> str:
    """``YYYY-MM-DD`` of a day count since 1970-01-01."""
    return _format_days(days)


def format_seconds(seconds: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of whole seconds since the epoch (UTC)."""
    days, rem = divmod(seconds, 86_400)
    return f"{_format_days(days)} {rem // 3600:02d}:{rem % 3600 // 60:02d}:{rem % 60:02d}"
