"""Each quiet-hours rule, at the instant a message would go out."""

from datetime import UTC, datetime, time

import pytest

from messaging.quiet_hours import Window, candidate_zones, is_quiet_time, next_send_time, window_for

NY = ("America/New_York",)
LA = ("America/Los_Angeles",)


def at(text):  # a UTC instant
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_federal_window_is_8am_to_9pm_local():
    assert window_for("NY") == Window(time(8), time(21))
    assert window_for("") == Window(time(8), time(21))


@pytest.mark.parametrize("state", ["FL", "OK"])
def test_florida_and_oklahoma_end_at_8pm(state):
    assert window_for(state) == Window(time(8), time(20))


def test_an_organization_can_narrow_the_window_but_never_widen_it():
    assert window_for("NY", time(10), time(18)) == Window(time(10), time(18))
    assert window_for("NY", time(6), time(23)) == Window(time(8), time(21))
    assert window_for("FL", time(9), time(21)) == Window(time(9), time(20))


def test_inside_the_window_a_message_goes_now():
    now = at("2026-06-15T16:00:00")  # 12:00 in New York (EDT)
    assert next_send_time(now, window=window_for("NY"), zones=NY) == now


def test_after_9pm_a_message_is_held_until_8am_next_morning():
    now = at("2026-06-16T01:30:00")  # 21:30 in New York
    assert next_send_time(now, window=window_for("NY"), zones=NY) == at("2026-06-16T12:00:00")


def test_before_8am_a_message_is_held_until_8am_the_same_day():
    now = at("2026-06-15T10:59:00")  # 06:59 in New York
    assert next_send_time(now, window=window_for("NY"), zones=NY) == at("2026-06-15T12:00:00")


def test_the_window_follows_the_recipients_zone_not_the_senders():
    now = at("2026-06-15T13:00:00")  # 9:00 in New York, 6:00 in Los Angeles
    assert not is_quiet_time(now, window=window_for("NY"), zones=NY)
    assert next_send_time(now, window=window_for("CA"), zones=LA) == at("2026-06-15T15:00:00")


def test_florida_number_is_held_at_8pm_while_new_york_is_not():
    now = at("2026-06-16T00:30:00")  # 20:30 in both (EDT)
    assert is_quiet_time(now, window=window_for("FL"), zones=NY)
    assert not is_quiet_time(now, window=window_for("NY"), zones=NY)


def test_oklahoma_number_is_held_at_8pm_central():
    now = at("2026-06-16T01:15:00")  # 20:15 in Oklahoma City (CDT)
    held = next_send_time(now, window=window_for("OK"), zones=("America/Chicago",))
    assert held == at("2026-06-16T13:00:00")  # 8:00 CDT


def test_when_the_zone_is_uncertain_every_possible_zone_must_be_inside_the_window():
    zones = ("America/New_York", "America/Chicago")
    now = at("2026-06-15T12:30:00")  # 8:30 New York but 7:30 Chicago
    assert next_send_time(now, window=window_for(""), zones=zones) == at("2026-06-15T13:00:00")
    late = at("2026-06-16T00:45:00")  # 20:45 New York, 19:45 Chicago: both inside 8am-9pm
    assert not is_quiet_time(late, window=window_for(""), zones=zones)


def test_daylight_saving_changes_are_respected():
    # 2026-03-08 is the US spring-forward day: 8am EDT is 12:00 UTC, the day before 13:00 UTC.
    assert next_send_time(at("2026-03-08T06:00:00"), window=window_for("NY"), zones=NY) == at(
        "2026-03-08T12:00:00"
    )
    assert next_send_time(at("2026-03-07T06:00:00"), window=window_for("NY"), zones=NY) == at(
        "2026-03-07T13:00:00"
    )


def test_zone_candidates_prefer_the_contacts_own_then_the_numbers_then_the_workspaces():
    assert candidate_zones("America/Denver", NY, "America/Chicago") == ("America/Denver",)
    assert candidate_zones("", NY, "America/Chicago") == NY
    many = tuple(f"Zone/{i}" for i in range(40))  # a toll-free number "is" everywhere
    assert candidate_zones("", many, "America/Chicago") == ("America/Chicago",)
    assert candidate_zones("", (), "America/Chicago") == ("America/Chicago",)


def test_zones_too_far_apart_to_share_a_window_fall_back_to_the_first():
    zones = ("Pacific/Guam", "America/New_York")  # 14 hours apart
    now = at("2026-06-15T16:00:00")
    result = next_send_time(now, window=window_for(""), zones=zones)
    assert result == next_send_time(now, window=window_for(""), zones=zones[:1])
