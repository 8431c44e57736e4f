"""Quiet hours: when a marketing text may be delivered to a recipient.

The law sets the outer bound, in the recipient's local time: 8am-9pm (federal telemarketing
rules), 8am-8pm for Florida and Oklahoma numbers. An organization may only narrow it. When the
recipient's zone is uncertain (a number whose area spans zones, no zone on file), the window must
hold in every zone the number may be in.

The sending pipeline calls ``next_send_time`` for each recipient at the moment of sending: a
message is sent now if it returns ``now``, otherwise held until the returned instant.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LEGAL_START, LEGAL_END = time(8, 0), time(21, 0)
STATE_WINDOWS = {"FL": (time(8, 0), time(20, 0)), "OK": (time(8, 0), time(20, 0))}
# Beyond this many candidate zones (e.g. toll-free numbers) there is no common window: use the
# organization's own zone instead.
MAX_CANDIDATE_ZONES = 6


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    def __str__(self):
        return f"{self.start:%-I:%M %p} to {self.end:%-I:%M %p}"


def window_for(region: str, org_start: time | None = None, org_end: time | None = None) -> Window:
    """The allowed local window for a number in ``region``, narrowed by the organization's."""
    start, end = STATE_WINDOWS.get(region, (LEGAL_START, LEGAL_END))
    if org_start is not None:
        start = max(start, org_start)
    if org_end is not None:
        end = min(end, org_end)
    return Window(start, end)


def candidate_zones(
    contact_timezone: str, number_timezones: tuple[str, ...], org_timezone: str
) -> tuple[str, ...]:
    if contact_timezone:
        return (contact_timezone,)
    if 0 < len(number_timezones) <= MAX_CANDIDATE_ZONES:
        return tuple(number_timezones)
    return (org_timezone,)


def next_send_time(
    now: datetime,
    *,
    window: Window,
    zones: tuple[str, ...],
) -> datetime:
    """``now`` if ``now`` is inside ``window`` in every zone, else the first instant after it
    that is. Never earlier than ``now``."""
    if window.start >= window.end:
        raise ValueError(f"Empty sending window {window}")
    for start, end in _common_intervals(now.date(), window, zones):
        if end > now:
            return max(start, now)
    # Zones too far apart to share the window: fall back to the first zone alone.
    return next_send_time(now, window=window, zones=zones[:1])


def is_quiet_time(now: datetime, *, window: Window, zones: tuple[str, ...]) -> bool:
    return next_send_time(now, window=window, zones=zones) != now


@lru_cache(maxsize=4096)
def _common_intervals(day, window: Window, zones: tuple[str, ...]) -> tuple:
    """UTC intervals, over the days around ``day``, when every zone is inside ``window``."""
    common = None
    for zone_name in zones:
        intervals = [
            _utc_interval(day + timedelta(days=d), window, zone_name) for d in range(-1, 3)
        ]
        common = intervals if common is None else _intersect(common, intervals)
    return tuple(common or ())


def _utc_interval(day, window: Window, zone_name: str):
    zone = _zone(zone_name)
    start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, window.end, tzinfo=zone).astimezone(UTC)
    return start, end


def _intersect(left, right):
    result = []
    for a_start, a_end in left:
        for b_start, b_end in right:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return sorted(result)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/New_York")
