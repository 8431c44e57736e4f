"""A rejection, explained: Twilio's reason in plain words (smsplatform.providers.errors, the one
table of Twilio codes) and what the customer should change in the form."""

from dataclasses import dataclass

from a2p.forms import RegistrationForm
from a2p.submission import TWILIO_FIELD_TO_FORM
from smsplatform.providers.errors import TWILIO_CODES

WHAT_TO_CHANGE = {
    30795: "Check your EIN and your legal business name: both must match your IRS records "
    "exactly (see your EIN confirmation letter, CP 575).",
    30801: "Check the business address: it must be the address registered for your EIN.",
    21736: "Check the brand contact email address.",
    22214: "Contact support: a part of the profile is missing on our side.",
    22215: "Fill in the business details marked below.",
    22216: "Check the business address.",
    22217: "Check that the business details match your official documents.",
    22218: "Check the representative's mobile number, with its area code.",
    22219: "Check the business address.",
    30532: "Describe texts from your business to people who subscribed, not personal messages.",
    30533: "Make your sample texts match what you describe, each with your business name.",
    30538: "Say where and how people sign up and what they agree to receive.",
    30899: "Read the carriers' notes below, then adjust how people sign up, your sample texts "
    "and your description.",
    30900: "Choose another kind of texts (what you send).",
    30902: "Read the carriers' notes below, then adjust your description and sample texts.",
    30910: "Write your description, sign-up steps and samples in English.",
    30994: "Your brand contact must click the link in the verification email Twilio sent.",
}
DEFAULT_CHANGE = "Check the details below and resubmit. Contact support if you are unsure."


@dataclass(frozen=True)
class Explanation:
    what: str  # "brand", "campaign", "business profile"...
    code: int | None
    reason: str
    change: str
    fields: list[str]  # the form's labels to look at


def explain(rejection: list[dict]) -> list[Explanation]:
    explained = []
    for item in rejection:
        code = item.get("code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        reason = TWILIO_CODES[code][1] if code in TWILIO_CODES else ""
        reason = reason or item.get("description") or "Twilio did not give a reason."
        labels = []
        for twilio_field in item.get("fields") or []:
            form_field = TWILIO_FIELD_TO_FORM.get(twilio_field)
            if form_field:
                field = RegistrationForm.base_fields[form_field]
                label = str(field.label or form_field.replace("_", " ").capitalize())
                if label not in labels:
                    labels.append(label)
        explained.append(
            Explanation(
                what=item.get("object") or "registration",
                code=code,
                reason=reason,
                change=WHAT_TO_CHANGE.get(code, DEFAULT_CHANGE),
                fields=labels,
            )
        )
    return explained
