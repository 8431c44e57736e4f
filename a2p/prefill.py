"""What the registration can take from what the organization already told the platform: its
public sign-up page (/join/: the disclosure people agree to, the join keyword) and its keyword
replies (Compliance settings). Read in the organization's own schema (a request on its domain).
"""

import re
from dataclasses import dataclass

from django.urls import reverse

from messaging import services as messaging_services

OPT_IN_KEYWORDS = ["START", "YES", "UNSTOP"]
OPT_OUT_KEYWORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
HELP_KEYWORDS = ["HELP", "INFO"]
KEYWORD_MESSAGE_LENGTH = (20, 320)  # twilio-a2p.md §1, step 5.2


def _signup_page(organization) -> tuple[str, str, str]:
    """(page address, disclosure as shown, join keyword)."""
    settings_row = messaging_services.compliance_settings()
    keyword = (settings_row.join_keywords or ["JOIN"])[0]
    disclosure = settings_row.signup_disclosure.format(business=organization.name)
    return organization.url + reverse("signup_page"), disclosure, keyword


def initial_answers(organization) -> dict:
    """A first draft of the form, from the organization's profile and sign-up page."""
    page, disclosure, keyword = _signup_page(organization)
    name = organization.name
    return {
        "legal_name": name,
        "website": organization.website,
        "country": organization.country if organization.country in ("US", "CA") else "US",
        "regions": ["USA_AND_CANADA"],
        "registration_id_type": "EIN",
        "company_type": "private",
        "brand_type": "low_volume_standard",
        "rep_position": "CEO",
        "use_case": "MARKETING",
        "description": (
            f"{name} texts its subscribers about offers, new arrivals and events. Only people "
            "who signed up receive these texts, and each can reply STOP to unsubscribe."
        ),
        "message_flow": (
            f"People sign up on {name}'s web page {page}: they enter their mobile number next "
            f'to this notice: "{disclosure}" We then text them to confirm, and they are '
            f"subscribed only after replying Y. They can also text {keyword} to our number, "
            "and again confirm with Y."
        ),
        "sample_1": f"{name}: Our spring collection is in! Come see it this week. Reply STOP to "
        "opt out.",
        "sample_2": f"{name}: 20% off everything this weekend for subscribers. Show this text "
        "at checkout. Reply STOP to opt out.",
        "has_links": False,
        "has_phone_numbers": False,
    }


@dataclass(frozen=True)
class KeywordReplies:
    """The campaign's keywords and replies, as the organization's Compliance settings say."""

    opt_in_message: str
    opt_out_message: str
    help_message: str
    problems: list[str]

    def as_details(self) -> dict:
        return {
            "opt_in_message": self.opt_in_message,
            "opt_out_message": self.opt_out_message,
            "help_message": self.help_message,
            "opt_in_keywords": OPT_IN_KEYWORDS,
            "opt_out_keywords": OPT_OUT_KEYWORDS,
            "help_keywords": HELP_KEYWORDS,
        }


def keyword_replies(organization) -> KeywordReplies:
    settings_row = messaging_services.compliance_settings()
    contact = f" at {settings_row.support_contact}" if settings_row.support_contact else ""

    def render(text):
        return re.sub(r"\s+", " ", text.format(business=organization.name, contact=contact))

    replies = {
        "opt-in confirmation": render(settings_row.welcome_message),
        "opt-out reply": render(settings_row.opt_out_reply),
        "help reply": render(settings_row.help_reply),
    }
    low, high = KEYWORD_MESSAGE_LENGTH
    problems = [
        f"Your {label} has {len(text)} characters; the carriers accept {low} to {high}. "
        "Shorten it in Compliance settings."
        for label, text in replies.items()
        if not low <= len(text) <= high
    ]
    opt_in, opt_out, help_reply = replies.values()
    return KeywordReplies(opt_in, opt_out, help_reply, problems)
