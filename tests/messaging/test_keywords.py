import pytest

from messaging.keywords import Intent, classify, normalize


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", "Stop.", "STOP!!!", " stop ", "StOp", "STOPALL", "stop all", "UNSUBSCRIBE",
     "unsubscribe", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "opt out", "Opt-out", "STOP 🛑"],
)  # fmt: skip
def test_opt_out_keywords_in_any_case_and_punctuation(body):
    assert classify(body).intent == Intent.OPT_OUT


@pytest.mark.parametrize(
    "body",
    ["stop please", "Stop please!", "please stop", "unsubscribe me", "Unsubscribe me please",
     "please stop texting me", "Stop texting me", "stop sending me texts", "STOP IT",
     "remove me from your list", "Take me off this list please", "don't text me anymore",
     "Do not text me", "no more texts please", "I want to opt out", "quit it", "end now"],
)  # fmt: skip
def test_plain_language_opt_outs(body):
    assert classify(body).intent == Intent.OPT_OUT


@pytest.mark.parametrize(
    "body",
    ["Can I stop by the store tomorrow?", "cancel my order 1234", "When does the sale end?",
     "I can't stop smiling, thank you!", "What time do you close?", "yes please see you soon"],
)  # fmt: skip
def test_ordinary_messages_that_mention_a_keyword_are_not_opt_outs(body):
    keyword = classify(body)
    assert keyword is None or keyword.intent != Intent.OPT_OUT


@pytest.mark.parametrize("body", ["START", "start", "Unstop", "YES", "yes."])
def test_opt_in_keywords(body):
    assert classify(body).intent == Intent.OPT_IN


@pytest.mark.parametrize("body", ["HELP", "help", "Help?", "INFO", "info please"])
def test_help_keywords(body):
    assert classify(body).intent == Intent.HELP


def test_join_keyword_and_custom_join_keywords():
    assert classify("JOIN").intent == Intent.JOIN
    assert classify("join!").intent == Intent.JOIN
    assert classify("Roses", join_keywords=["JOIN", "ROSES"]).intent == Intent.JOIN
    assert classify("Roses") is None


def test_y_confirms_only_while_awaiting_confirmation():
    assert classify("Y", awaiting_confirmation=True).intent == Intent.CONFIRM
    assert classify("yes", awaiting_confirmation=True).intent == Intent.CONFIRM
    assert classify("Y") is None


def test_opt_out_wins_over_everything():
    assert classify("STOP", join_keywords=["STOP"]).intent == Intent.OPT_OUT
    assert classify("stop", awaiting_confirmation=True).intent == Intent.OPT_OUT


def test_normalize_keeps_the_evidence_readable():
    assert normalize("  Stóp,   PLEASE!! ") == "stop please"
    assert normalize("don\u2019t text me") == "don t text me"  # a curly apostrophe
