"""What a text costs in messages: encoding and segments, as carriers count them."""

import pytest

from messaging.encoding import text_cost
from messaging.rendering import render_merge_fields, unknown_merge_fields


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm7_fits_160_then_153_per_segment(length, segments):
    cost = text_cost("a" * length)
    assert (cost.encoding, cost.segments, cost.messages) == ("GSM-7", segments, segments)


def test_extension_characters_count_twice():
    assert text_cost("{" * 80).units == 160 and text_cost("{" * 80).segments == 1
    assert text_cost("€" * 81).segments == 2
    assert text_cost("a" * 159 + "^").segments == 2  # 161 septets


def test_an_escape_pair_is_never_split_across_segments():
    # 152 plain + one 2-septet char would straddle the 153 boundary: it moves to segment two.
    text = "a" * 152 + "[" + "a" * 152
    assert text_cost(text).units == 306
    assert text_cost(text).segments == 3


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_one_unicode_character_switches_to_ucs2_70_then_67(length, segments):
    text = "ş" + "a" * (length - 1)
    cost = text_cost(text)
    assert (cost.encoding, cost.segments) == ("UCS-2", segments)
    assert cost.unicode_characters == ("ş",)


def test_emoji_take_two_units_and_are_reported():
    cost = text_cost("Sale! 🎉 20% off 🎉 today’s only")
    assert cost.encoding == "UCS-2"
    assert cost.unicode_characters == ("🎉", "’")
    assert cost.units == len("Sale! 🎉 20% off 🎉 today’s only") + 2
    assert text_cost("🎉" * 35).segments == 1 and text_cost("🎉" * 36).segments == 2


def test_gsm7_accented_letters_do_not_force_unicode():
    assert text_cost("Café à Ñoño über, Ça va?").encoding == "GSM-7"  # lowercase ç is not GSM-7
    assert text_cost("Crème brûlée").encoding == "UCS-2"  # è and é are GSM-7, û is not
    assert text_cost("Crème brûlée").unicode_characters == ("û",)


def test_merge_fields_with_fallbacks():
    template = "Hi {first_name|there}, {business} has {points} points for you{unknown}"
    values = {"first_name": "", "business": "Acme", "points": 120}
    assert render_merge_fields(template, values) == "Hi there, Acme has 120 points for you"
    assert render_merge_fields("Hi {first_name|there}", {"first_name": "Rosa"}) == "Hi Rosa"


def test_unknown_merge_fields_are_found_before_sending():
    assert unknown_merge_fields("Hi {frist_name}, {points|0} {business}", ["points"]) == [
        "frist_name"
    ]
