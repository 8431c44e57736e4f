"""The registration form: what Twilio and the carriers need to know about the business and its
texts, checked here against the same rules (twilio-a2p.md §1) so that rejections are rare.

Answers are kept in ``Registration.details`` as the form's cleaned data (JSON); a draft keeps
whatever was typed, unchecked, so a half-filled form survives until the next visit."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from messaging.phones import US_STATES, InvalidPhone, parse_phone

BUSINESS_TYPES = [
    "Sole Proprietorship",
    "Partnership",
    "Limited Liability Corporation",
    "Co-operative",
    "Non-profit Corporation",
    "Corporation",
]
INDUSTRIES = [
    ("AGRICULTURE", "Agriculture"), ("AUTOMOTIVE", "Automotive"), ("BANKING", "Banking"),
    ("CONSTRUCTION", "Construction"), ("CONSUMER", "Consumer services"),
    ("EDUCATION", "Education"), ("ELECTRONICS", "Electronics"), ("ENERGY", "Energy"),
    ("ENGINEERING", "Engineering"), ("FAST_MOVING_CONSUMER_GOODS", "Consumer goods"),
    ("FINANCIAL", "Financial services"), ("FINTECH", "Fintech"),
    ("FOOD_AND_BEVERAGE", "Food and beverage"), ("GOVERNMENT", "Government"),
    ("HEALTHCARE", "Healthcare"), ("HOSPITALITY", "Hospitality"), ("INSURANCE", "Insurance"),
    ("JEWELRY", "Jewelry"), ("LEGAL", "Legal"), ("MANUFACTURING", "Manufacturing"),
    ("MEDIA", "Media"), ("NOT_FOR_PROFIT", "Not for profit"), ("OIL_AND_GAS", "Oil and gas"),
    ("ONLINE", "Online"), ("PROFESSIONAL_SERVICES", "Professional services"),
    ("RAW_MATERIALS", "Raw materials"), ("REAL_ESTATE", "Real estate"),
    ("RELIGION", "Religion"), ("RETAIL", "Retail"), ("TECHNOLOGY", "Technology"),
    ("TELECOMMUNICATIONS", "Telecommunications"), ("TRANSPORTATION", "Transportation"),
    ("TRAVEL", "Travel"),
]  # fmt: skip
REGISTRATION_IDS = [
    ("EIN", "EIN (US Employer Identification Number)"),
    ("DUNS", "DUNS number"),
    ("CBN", "Canadian Business Number"),
    ("Other", "Another registration number"),
]
REGIONS = [
    ("USA_AND_CANADA", "USA and Canada"),
    ("LATIN_AMERICA", "Latin America"),
    ("EUROPE", "Europe"),
    ("ASIA", "Asia"),
    ("AFRICA", "Africa"),
]
JOB_POSITIONS = ["Director", "GM", "VP", "CEO", "CFO", "General Counsel", "Other"]
COMPANY_TYPES = [
    ("private", "Private company"),
    ("public", "Publicly traded company"),
    ("non_profit", "Non-profit organization"),
    ("government", "Government body"),
]
STOCK_EXCHANGES = [
    "NASDAQ", "NYSE", "AMEX", "AMX", "ASX", "B3", "BME", "BSE", "FRA", "ICEX", "JPX", "JSE",
    "KRX", "LON", "NSE", "OMX", "SEHK", "SGX", "SSE", "STO", "SWX", "SZSE", "TSX", "TWSE", "VSE",
    "OTHER",
]  # fmt: skip
LOW_VOLUME_STANDARD = "low_volume_standard"
STANDARD = "standard"
BRAND_TYPES = [
    (
        LOW_VOLUME_STANDARD,
        "Low-Volume Standard: for up to about 6,000 texts a day. Texts go out at up to 12 a "
        "second, and registration costs less because the carriers' extra vetting is skipped.",
    ),
    (
        STANDARD,
        "Standard: for larger lists. The carriers vet your business and its score sets your "
        "speed, up to 225 texts a second. Registration costs more (the vetting has a fee).",
    ),
]
USE_CASES = [
    ("MARKETING", "Marketing: offers, sales, new arrivals, events"),
    ("MIXED", "Mixed: marketing and account or order updates"),
    ("LOW_VOLUME", "Low volume mixed: a few texts of several kinds"),
    ("ACCOUNT_NOTIFICATION", "Account notifications: reminders and alerts"),
    ("CUSTOMER_CARE", "Customer care: answering questions and support"),
]
COUNTRIES = [("US", "United States"), ("CA", "Canada")]

# Twilio's limits (twilio-a2p.md §1, step 5.2).
DESCRIPTION_LENGTH = (40, 4096)
MESSAGE_FLOW_LENGTH = (40, 2048)
SAMPLE_LENGTH = (20, 1024)
SAMPLE_COUNT = (2, 5)
SAMPLE_FIELDS = [f"sample_{n}" for n in range(1, SAMPLE_COUNT[1] + 1)]

_NINE_DIGITS = re.compile(r"^\d{9}$")
_US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_CA_POSTAL = re.compile(r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$")
_TICKER = re.compile(r"^[A-Za-z0-9.\-]{1,10}$")
_LINK = re.compile(
    r"(https?://|www\.)\S+|\b[a-z0-9-]+\.(com|net|org|co|io|shop|store|us|ly)\b", re.I
)
_PHONE_IN_TEXT = re.compile(r"(\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b")
_url = URLValidator(schemes=["http", "https"])


def _choices(values):
    return [(value, value) for value in values]


def _blank(choices, label="Choose…"):
    return [("", label), *choices]


class RegistrationForm(forms.Form):
    """Every answer of the guided form. ``SECTIONS`` groups them as the page shows them."""

    # --- your business ---------------------------------------------------------------------
    legal_name = forms.CharField(
        max_length=255,
        label="Legal business name",
        help_text="Exactly as on your tax documents (for an EIN: as the IRS has it).",
    )
    business_type = forms.ChoiceField(choices=_blank(_choices(BUSINESS_TYPES)))
    industry = forms.ChoiceField(choices=_blank(INDUSTRIES))
    registration_id_type = forms.ChoiceField(
        choices=REGISTRATION_IDS, label="Business registration number type", initial="EIN"
    )
    registration_number = forms.CharField(
        max_length=50,
        label="Business registration number",
        help_text="For an EIN, the nine digits, e.g. 12-3456789.",
    )
    regions = forms.MultipleChoiceField(
        choices=REGIONS,
        widget=forms.CheckboxSelectMultiple,
        label="Where do you do business?",
        initial=["USA_AND_CANADA"],
    )
    website = forms.URLField(
        max_length=255, assume_scheme="https", help_text="Your business's own website."
    )
    social_profiles = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Social media pages (optional)",
        help_text="One address per line, e.g. https://instagram.com/yourshop",
    )

    # --- address ---------------------------------------------------------------------------
    street = forms.CharField(max_length=255, label="Street address")
    street_secondary = forms.CharField(max_length=255, required=False, label="Suite or unit")
    city = forms.CharField(max_length=100)
    state = forms.CharField(
        max_length=40, label="State or province", help_text="Two letters, e.g. TX or ON."
    )
    postal_code = forms.CharField(max_length=10, label="ZIP or postal code")
    country = forms.ChoiceField(choices=COUNTRIES, initial="US")

    # --- authorised representative ---------------------------------------------------------
    rep_first_name = forms.CharField(max_length=80, label="First name")
    rep_last_name = forms.CharField(max_length=80, label="Last name")
    rep_email = forms.EmailField(label="Email")
    rep_phone = forms.CharField(
        max_length=40, label="Mobile phone", help_text="Any format, e.g. (512) 555-0143."
    )
    rep_title = forms.CharField(max_length=100, label="Job title", help_text="E.g. Owner.")
    rep_position = forms.ChoiceField(
        choices=_blank(_choices(JOB_POSITIONS)), label="Position", initial="CEO"
    )

    # --- company type ----------------------------------------------------------------------
    company_type = forms.ChoiceField(
        choices=COMPANY_TYPES, widget=forms.RadioSelect, initial="private"
    )
    stock_exchange = forms.ChoiceField(
        choices=_blank(_choices(STOCK_EXCHANGES)), required=False, label="Stock exchange"
    )
    stock_ticker = forms.CharField(max_length=10, required=False, label="Ticker symbol")
    brand_contact_email = forms.EmailField(
        required=False,
        label="Brand contact email",
        help_text="Public companies: the carriers email this person a confirmation link.",
    )

    # --- brand type ------------------------------------------------------------------------
    brand_type = forms.ChoiceField(
        choices=BRAND_TYPES, widget=forms.RadioSelect, initial=LOW_VOLUME_STANDARD
    )

    # --- your texts (the campaign) -----------------------------------------------------------
    use_case = forms.ChoiceField(choices=USE_CASES, initial="MARKETING", label="What you send")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What your texts are about",
        help_text="40 to 4,096 characters. Who receives them, what they say and why.",
    )
    message_flow = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="How people sign up",
        help_text="40 to 2,048 characters: where they give their number, what they are told, "
        "how they confirm.",
    )
    sample_1 = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Sample text 1", required=False
    )
    sample_2 = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Sample text 2", required=False
    )
    sample_3 = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Sample text 3 (optional)", required=False
    )
    sample_4 = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Sample text 4 (optional)", required=False
    )
    sample_5 = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Sample text 5 (optional)", required=False
    )
    has_links = forms.BooleanField(required=False, label="My texts contain links")
    has_phone_numbers = forms.BooleanField(required=False, label="My texts contain phone numbers")
    privacy_policy_url = forms.URLField(
        max_length=255, assume_scheme="https", label="Privacy policy address"
    )
    terms_url = forms.URLField(
        max_length=255, assume_scheme="https", label="Terms and conditions address"
    )

    SECTIONS = [
        (
            "Your business",
            "As registered with the government: the carriers check it.",
            ["legal_name", "business_type", "industry", "registration_id_type",
             "registration_number", "regions", "website", "social_profiles"],
        ),
        (
            "Business address",
            "Where the business is registered.",
            ["street", "street_secondary", "city", "state", "postal_code", "country"],
        ),
        (
            "Authorised representative",
            "A person who may act for the business. Twilio may contact them.",
            ["rep_first_name", "rep_last_name", "rep_email", "rep_phone", "rep_title",
             "rep_position"],
        ),
        (
            "Company type",
            "",
            ["company_type", "stock_exchange", "stock_ticker", "brand_contact_email"],
        ),
        ("Brand type", "How many texts you expect to send.", ["brand_type"]),
        (
            "Your texts",
            "The carriers read this to decide whether your texts are wanted by the people who "
            "get them.",
            ["use_case", "description", "message_flow", *SAMPLE_FIELDS, "has_links",
             "has_phone_numbers", "privacy_policy_url", "terms_url"],
        ),
    ]  # fmt: skip

    def __init__(self, *args, business_names=(), **kwargs):
        """``business_names``: names a sample may use to say who is texting (the legal name
        and the workspace's name)."""
        super().__init__(*args, **kwargs)
        self.business_names = [name for name in business_names if name]

    def sections(self):
        return [
            (title, intro, [self[name] for name in names]) for title, intro, names in self.SECTIONS
        ]

    # --- one field at a time -------------------------------------------------------------------

    def clean_legal_name(self):
        return " ".join(self.cleaned_data["legal_name"].split())

    def clean_state(self):
        state = " ".join(self.cleaned_data["state"].split())
        by_name = {name.lower(): code for name, code in US_STATES.items()}
        return by_name.get(state.lower(), state.upper())

    def clean_postal_code(self):
        return self.cleaned_data["postal_code"].strip().upper()

    def clean_rep_phone(self):
        try:
            return parse_phone(self.cleaned_data["rep_phone"]).e164
        except InvalidPhone as exc:
            raise ValidationError(f"{exc.reason}. Use a number with its area code.") from None

    def clean_social_profiles(self):
        urls = [line.strip() for line in self.cleaned_data["social_profiles"].splitlines()]
        urls = [url for url in urls if url]
        for url in urls:
            try:
                _url(url)
            except ValidationError:
                raise ValidationError(
                    f"“{url}” is not a web address (start it with https://)."
                ) from None
        return urls

    def clean_description(self):
        return _length_checked(self.cleaned_data["description"], DESCRIPTION_LENGTH)

    def clean_message_flow(self):
        return _length_checked(self.cleaned_data["message_flow"], MESSAGE_FLOW_LENGTH)

    def clean_stock_ticker(self):
        return self.cleaned_data["stock_ticker"].strip().upper()

    # --- the rules that join fields ------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        self._check_registration_number(cleaned)
        self._check_address(cleaned)
        self._check_company_type(cleaned)
        self._check_samples(cleaned)
        return cleaned

    def _check_registration_number(self, cleaned):
        kind, number = cleaned.get("registration_id_type"), cleaned.get("registration_number")
        if not number:
            return
        digits = re.sub(r"[\s.-]", "", number)
        if kind in ("EIN", "DUNS", "CBN"):
            if not _NINE_DIGITS.match(digits):
                self.add_error("registration_number", f"A {kind} has nine digits, e.g. 12-3456789.")
                return
            cleaned["registration_number"] = (
                f"{digits[:2]}-{digits[2:]}" if kind == "EIN" else digits
            )
        elif not re.fullmatch(r"[A-Za-z0-9]{2,50}", digits):
            self.add_error("registration_number", "Use letters and digits only.")

    def _check_address(self, cleaned):
        country, state, postal = (cleaned.get(k) for k in ("country", "state", "postal_code"))
        if country == "US":
            if state and state not in US_STATES.values():
                self.add_error("state", "Use the state's two-letter code, e.g. TX.")
            if postal and not _US_ZIP.match(postal):
                self.add_error("postal_code", "A US ZIP code has five digits, e.g. 78701.")
        elif country == "CA" and postal and not _CA_POSTAL.match(postal):
            self.add_error("postal_code", "A Canadian postal code looks like K1A 0B1.")

    def _check_company_type(self, cleaned):
        company_type = cleaned.get("company_type")
        if company_type == "public":
            if not cleaned.get("stock_exchange"):
                self.add_error("stock_exchange", "Public companies give their stock exchange.")
            if not _TICKER.match(cleaned.get("stock_ticker") or ""):
                self.add_error("stock_ticker", "Public companies give their ticker, e.g. ACME.")
            if not cleaned.get("brand_contact_email"):
                self.add_error(
                    "brand_contact_email",
                    "Public companies need a contact who confirms the registration by email.",
                )
        else:
            cleaned.update(stock_exchange="", stock_ticker="", brand_contact_email="")
        # Twilio registers both as non-profit corporations, in their own industry ([GOV]).
        if company_type == "non_profit":
            cleaned.update(business_type="Non-profit Corporation", industry="NOT_FOR_PROFIT")
        elif company_type == "government":
            cleaned.update(business_type="Non-profit Corporation", industry="GOVERNMENT")
        elif cleaned.get("industry") in ("NOT_FOR_PROFIT", "GOVERNMENT"):
            self.add_error(
                "industry", "This industry is for non-profits and government bodies only."
            )

    def _check_samples(self, cleaned):
        samples = [(cleaned.get(name) or "").strip() for name in SAMPLE_FIELDS]
        given = [text for text in samples if text]
        low, high = SAMPLE_LENGTH
        for name, text in zip(SAMPLE_FIELDS, samples, strict=True):
            if text and not low <= len(text) <= high:
                self.add_error(name, f"A sample has {low} to {high} characters ({len(text)} now).")
        if len(given) < SAMPLE_COUNT[0]:
            self.add_error("sample_2" if given else "sample_1", "Give at least two sample texts.")
            return
        names = [
            _without_legal_suffix(name)
            for name in (*self.business_names, cleaned.get("legal_name"))
            if name
        ]
        if not any(name.lower() in text.lower() for text in given for name in names):
            self.add_error(
                "sample_1", "Say who is texting: put your business name in your sample texts."
            )
        if not any("stop" in text.lower() for text in given):
            self.add_error(
                "sample_1", "Show how to unsubscribe in a sample, e.g. “Reply STOP to opt out.”"
            )
        if any(_LINK.search(text) for text in given) and not cleaned.get("has_links"):
            self.add_error("has_links", "Your samples contain a link: tick this box.")
        if any(_PHONE_IN_TEXT.search(text) for text in given) and not cleaned.get(
            "has_phone_numbers"
        ):
            self.add_error("has_phone_numbers", "Your samples contain a phone number: tick this.")
        cleaned["samples"] = given


_LEGAL_SUFFIX = re.compile(
    r"[\s,]+(llc|l\.l\.c\.|inc\.?|incorporated|corp\.?|corporation|co\.?|ltd\.?|limited)$",
    re.I,
)


def _without_legal_suffix(name: str) -> str:
    """ "Acme Boutique LLC" is "Acme Boutique" in a text."""
    return _LEGAL_SUFFIX.sub("", name.strip()) or name


def _length_checked(text: str, limits: tuple[int, int]) -> str:
    text = text.strip()
    low, high = limits
    if not low <= len(text) <= high:
        raise ValidationError(f"Write {low:,} to {high:,} characters ({len(text):,} now).")
    return text


def draft_answers(data) -> dict:
    """What a half-filled form holds, kept as typed (a QueryDict or dict)."""
    answers = {}
    for name, field in RegistrationForm.base_fields.items():
        if isinstance(field, forms.MultipleChoiceField):
            answers[name] = data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])
        elif isinstance(field, forms.BooleanField):
            answers[name] = data.get(name) in ("on", "true", "True", True, "1")
        else:
            answers[name] = (data.get(name) or "").strip()
    return answers


def form_initial(details: dict) -> dict:
    """A form's initial values from saved answers (cleaned or draft)."""
    initial = dict(details)
    if isinstance(initial.get("social_profiles"), list):
        initial["social_profiles"] = "\n".join(initial["social_profiles"])
    return initial


class PhoneNumberSearchForm(forms.Form):
    area_code = forms.RegexField(
        regex=r"^[2-9]\d\d$",
        max_length=3,
        label="Area code",
        error_messages={"invalid": "Three digits, e.g. 512."},
    )


class PhoneNumberChoiceForm(forms.Form):
    phone_number = forms.RegexField(regex=r"^\+1[2-9]\d{9}$", widget=forms.HiddenInput)
