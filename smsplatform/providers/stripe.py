"""The Stripe gateway: every call the platform makes to Stripe goes through this module.

Built on the official SDK (``stripe.StripeClient``); apps never import the SDK. What comes back
are the plain frozen dataclasses below (money in integer cents, times as aware UTC datetimes),
never SDK objects. Failures are raised as the classes of ``smsplatform.providers.errors``.

    from smsplatform.providers.stripe import gateway
    customer = gateway().create_customer(
        email=org.billing_email, metadata={"org_id": str(org.id)},
        idempotency_key=f"customer:{org.id}",
    )

**Idempotency keys.** Every ``create_*`` method requires an ``idempotency_key``: a string that
is the same every time the *same* business action is attempted, e.g. ``f"customer:{org.id}"``
or ``f"checkout:{org.id}:{attempt_id}"``. The SDK sends a random key per call and reuses it for
its own network retries, but a Celery task that runs again would send a new random key and
create a second customer or subscription. With a deterministic key Stripe replays the first
result instead (for 24 hours; keys up to 255 characters). Never reuse a key for a request with
different parameters: Stripe refuses it (ProviderRequestError, code ``idempotency_error``).
Meter events use their ``identifier`` the same way (Stripe deduplicates on it).

**API version.** Pinned to ``API_VERSION`` (2024-04-10), the version of the official OpenAPI
spec the contract tests check every request and response against. stripe-python 16 defaults to
a newer version whose objects differ (e.g. since 2025-03-31 a subscription's period lives on its
items and an invoice's subscription under ``parent``); the dataclasses read either shape.
"""

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import stripe
from django.conf import settings

from smsplatform.providers.errors import InvalidWebhookError, from_stripe_error

API_VERSION = "2024-04-10"
CHECKOUT_SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


def _time(value) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


def _id_of(value) -> str | None:
    """An id, whether Stripe sent the id or (expanded) the object."""
    if isinstance(value, dict):
        return value.get("id")
    return value


# --- What the gateway returns ----------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    id: str
    email: str | None
    name: str | None
    metadata: dict
    created: datetime

    @classmethod
    def from_dict(cls, data: dict) -> "Customer":
        return cls(
            id=data["id"],
            email=data.get("email"),
            name=data.get("name"),
            metadata=dict(data.get("metadata") or {}),
            created=_time(data["created"]),
        )


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    active: bool
    description: str | None
    metadata: dict

    @classmethod
    def from_dict(cls, data: dict) -> "Product":
        return cls(
            id=data["id"],
            name=data["name"],
            active=data["active"],
            description=data.get("description"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class PriceTier:
    up_to: int | None  # None: every unit beyond the previous tier
    unit_amount_cents: int | None
    flat_amount_cents: int | None = None


@dataclass(frozen=True)
class Price:
    id: str
    product_id: str
    active: bool
    currency: str
    type: str  # "one_time" or "recurring"
    unit_amount_cents: int | None  # None for tiered prices
    lookup_key: str | None
    nickname: str | None
    interval: str | None  # "month", "year"... for recurring prices
    interval_count: int | None
    usage_type: str | None  # "licensed" (per seat) or "metered" (billed from a meter)
    meter_id: str | None
    tiers_mode: str | None
    tiers: tuple[PriceTier, ...]
    metadata: dict
    product: Product | None = None  # when Stripe was asked to expand it

    @property
    def is_recurring(self) -> bool:
        return self.type == "recurring"

    @property
    def is_metered(self) -> bool:
        return self.usage_type == "metered"

    @classmethod
    def from_dict(cls, data: dict) -> "Price":
        recurring = data.get("recurring") or {}
        product = data.get("product")
        return cls(
            id=data["id"],
            product_id=_id_of(product),
            active=data["active"],
            currency=data["currency"],
            type=data["type"],
            unit_amount_cents=data.get("unit_amount"),
            lookup_key=data.get("lookup_key"),
            nickname=data.get("nickname"),
            interval=recurring.get("interval"),
            interval_count=recurring.get("interval_count"),
            usage_type=recurring.get("usage_type"),
            meter_id=recurring.get("meter"),
            tiers_mode=data.get("tiers_mode"),
            tiers=tuple(
                PriceTier(
                    up_to=tier.get("up_to"),
                    unit_amount_cents=tier.get("unit_amount"),
                    flat_amount_cents=tier.get("flat_amount"),
                )
                for tier in data.get("tiers") or ()
            ),
            metadata=dict(data.get("metadata") or {}),
            product=Product.from_dict(product) if isinstance(product, dict) else None,
        )


@dataclass(frozen=True)
class SubscriptionItem:
    id: str
    price: Price
    quantity: int | None  # None for metered prices


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    # "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired",
    # "trialing" or "paused".
    status: str
    items: tuple[SubscriptionItem, ...]
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    latest_invoice_id: str | None
    metadata: dict
    created: datetime

    @property
    def price_ids(self) -> tuple[str, ...]:
        return tuple(item.price.id for item in self.items)

    @property
    def plan_item(self) -> SubscriptionItem | None:
        """The item billed per period (not the metered overage item)."""
        return next((item for item in self.items if not item.price.is_metered), None)

    @classmethod
    def from_dict(cls, data: dict) -> "Subscription":
        items = (data.get("items") or {}).get("data") or []
        # 2024-04-10 keeps the period on the subscription; newer versions on each item.
        first_item = items[0] if items else {}
        period_start = data.get("current_period_start", first_item.get("current_period_start"))
        period_end = data.get("current_period_end", first_item.get("current_period_end"))
        return cls(
            id=data["id"],
            customer_id=_id_of(data["customer"]),
            status=data["status"],
            items=tuple(
                SubscriptionItem(
                    id=item["id"],
                    price=Price.from_dict(item["price"]),
                    quantity=item.get("quantity"),
                )
                for item in items
            ),
            current_period_start=_time(period_start),
            current_period_end=_time(period_end),
            cancel_at_period_end=bool(data.get("cancel_at_period_end")),
            canceled_at=_time(data.get("canceled_at")),
            ended_at=_time(data.get("ended_at")),
            latest_invoice_id=_id_of(data.get("latest_invoice")),
            metadata=dict(data.get("metadata") or {}),
            created=_time(data["created"]),
        )


@dataclass(frozen=True)
class InvoiceLine:
    description: str | None
    amount_cents: int
    price_id: str | None
    quantity: int | None
    period_start: datetime | None
    period_end: datetime | None


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    subscription_id: str | None
    # "draft", "open", "paid", "uncollectible" or "void".
    status: str | None
    billing_reason: str | None  # "subscription_create", "subscription_cycle"...
    currency: str
    total_cents: int
    amount_due_cents: int
    amount_paid_cents: int
    amount_remaining_cents: int
    attempt_count: int
    next_payment_attempt: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    number: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    lines: tuple[InvoiceLine, ...]
    created: datetime

    @property
    def paid(self) -> bool:
        return self.status == "paid"

    @classmethod
    def from_dict(cls, data: dict) -> "Invoice":
        subscription = data.get("subscription")
        if subscription is None:  # newer API versions
            details = (data.get("parent") or {}).get("subscription_details") or {}
            subscription = details.get("subscription")
        return cls(
            id=data["id"],
            customer_id=_id_of(data["customer"]),
            subscription_id=_id_of(subscription),
            status=data.get("status"),
            billing_reason=data.get("billing_reason"),
            currency=data["currency"],
            total_cents=data["total"],
            amount_due_cents=data["amount_due"],
            amount_paid_cents=data["amount_paid"],
            amount_remaining_cents=data["amount_remaining"],
            attempt_count=data.get("attempt_count") or 0,
            next_payment_attempt=_time(data.get("next_payment_attempt")),
            period_start=_time(data.get("period_start")),
            period_end=_time(data.get("period_end")),
            number=data.get("number"),
            hosted_invoice_url=data.get("hosted_invoice_url"),
            invoice_pdf=data.get("invoice_pdf"),
            lines=tuple(
                InvoiceLine(
                    description=line.get("description"),
                    amount_cents=line["amount"],
                    price_id=_id_of(line.get("price")),
                    quantity=line.get("quantity"),
                    period_start=_time((line.get("period") or {}).get("start")),
                    period_end=_time((line.get("period") or {}).get("end")),
                )
                for line in (data.get("lines") or {}).get("data") or []
            ),
            created=_time(data["created"]),
        )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None  # where to send the customer; None once complete or expired
    status: str | None  # "open", "complete" or "expired"
    payment_status: str  # "paid", "unpaid" or "no_payment_required"
    mode: str
    customer_id: str | None
    subscription_id: str | None
    client_reference_id: str | None
    amount_total_cents: int | None
    metadata: dict
    expires_at: datetime
    subscription: Subscription | None = None  # filled by retrieve_checkout_session

    @classmethod
    def from_dict(cls, data: dict) -> "CheckoutSession":
        subscription = data.get("subscription")
        return cls(
            id=data["id"],
            url=data.get("url"),
            status=data.get("status"),
            payment_status=data["payment_status"],
            mode=data["mode"],
            customer_id=_id_of(data.get("customer")),
            subscription_id=_id_of(subscription),
            client_reference_id=data.get("client_reference_id"),
            amount_total_cents=data.get("amount_total"),
            metadata=dict(data.get("metadata") or {}),
            expires_at=_time(data["expires_at"]),
            subscription=(
                Subscription.from_dict(subscription) if isinstance(subscription, dict) else None
            ),
        )


@dataclass(frozen=True)
class PortalSession:
    id: str
    url: str
    customer_id: str
    return_url: str | None

    @classmethod
    def from_dict(cls, data: dict) -> "PortalSession":
        return cls(
            id=data["id"],
            url=data["url"],
            customer_id=data["customer"],
            return_url=data.get("return_url"),
        )


@dataclass(frozen=True)
class Meter:
    id: str
    event_name: str
    display_name: str
    status: str
    formula: str  # "sum" or "count"
    customer_payload_key: str
    value_payload_key: str

    @classmethod
    def from_dict(cls, data: dict) -> "Meter":
        return cls(
            id=data["id"],
            event_name=data["event_name"],
            display_name=data["display_name"],
            status=data["status"],
            formula=data["default_aggregation"]["formula"],
            customer_payload_key=data["customer_mapping"]["event_payload_key"],
            value_payload_key=data["value_settings"]["event_payload_key"],
        )


@dataclass(frozen=True)
class MeterEvent:
    identifier: str
    event_name: str
    payload: dict
    timestamp: datetime

    @classmethod
    def from_dict(cls, data: dict) -> "MeterEvent":
        return cls(
            identifier=data["identifier"],
            event_name=data["event_name"],
            payload=dict(data["payload"]),
            timestamp=_time(data["timestamp"]),
        )


@dataclass(frozen=True)
class WebhookEvent:
    """A verified Stripe event. ``object`` is ``data.object`` as a plain dict (a checkout
    session, subscription, invoice...): turn it into a dataclass with e.g.
    ``Subscription.from_dict(event.object)``."""

    id: str
    type: str
    created: datetime
    api_version: str | None
    livemode: bool
    object: dict
    previous_attributes: dict | None = None
    payload: dict = field(default_factory=dict, repr=False)  # the whole event, for storing


# --- The gateway -----------------------------------------------------------------------------


class StripeGateway:
    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        webhook_secret: str = "",
        webhook_tolerance: int = 300,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_network_retries: int = 2,
    ):
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self._client = stripe.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            base_addresses={"api": api_base, "meter_events": api_base, "files": api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=(connect_timeout, read_timeout)),
        )

    # Every call goes through _call or _list, which turn SDK errors into the platform's.
    def _call(self, method, *args, params=None, idempotency_key=None, read=False) -> dict:
        options = {"idempotency_key": idempotency_key} if idempotency_key else None
        try:
            result = method(*args, params=params or {}, options=options)
        except stripe.StripeError as error:
            # A read or a keyed write can be repeated without doing anything twice.
            retry_safe = read or idempotency_key is not None
            raise from_stripe_error(error, retry_safe=retry_safe) from error
        return result.to_dict()

    def _list(self, method, *args, params) -> list[dict]:
        """Every item, following Stripe's pagination (starting_after)."""
        try:
            page = method(*args, params=params)
            return [item.to_dict() for item in page.auto_paging_iter()]
        except stripe.StripeError as error:
            raise from_stripe_error(error, retry_safe=True) from error

    @staticmethod
    def _require_key(idempotency_key: str) -> str:
        if not idempotency_key or len(idempotency_key) > 255:
            raise ValueError("A deterministic idempotency_key of 1-255 characters is required.")
        return idempotency_key

    # --- Customers ---------------------------------------------------------------------------

    def create_customer(
        self,
        *,
        email: str | None,
        name: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str,
    ) -> Customer:
        params = {"metadata": metadata or {}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        data = self._call(
            self._client.v1.customers.create,
            params=params,
            idempotency_key=self._require_key(idempotency_key),
        )
        return Customer.from_dict(data)

    def retrieve_customer(self, customer_id: str) -> Customer:
        return Customer.from_dict(
            self._call(self._client.v1.customers.retrieve, customer_id, read=True)
        )

    def update_customer(
        self,
        customer_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        metadata: dict | None = None,
    ) -> Customer:
        """Sets only what is given; metadata keys are merged (a key set to "" is removed)."""
        params = {}
        if email is not None:
            params["email"] = email
        if name is not None:
            params["name"] = name
        if metadata:
            params["metadata"] = metadata
        data = self._call(self._client.v1.customers.update, customer_id, params=params)
        return Customer.from_dict(data)

    # --- Products and prices -----------------------------------------------------------------

    def create_product(
        self,
        *,
        name: str,
        description: str | None = None,
        product_id: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str,
    ) -> Product:
        """``product_id`` chooses the id (e.g. "textwise-plans"), which makes a catalogue sync
        idempotent beyond the 24 hours of an idempotency key."""
        params = {"name": name, "metadata": metadata or {}}
        if description:
            params["description"] = description
        if product_id:
            params["id"] = product_id
        data = self._call(
            self._client.v1.products.create,
            params=params,
            idempotency_key=self._require_key(idempotency_key),
        )
        return Product.from_dict(data)

    def retrieve_product(self, product_id: str) -> Product:
        return Product.from_dict(
            self._call(self._client.v1.products.retrieve, product_id, read=True)
        )

    def create_price(
        self,
        *,
        product_id: str,
        currency: str = "usd",
        unit_amount_cents: int | None = None,
        recurring_interval: str | None = None,
        metered_by: str | None = None,
        tiers: list[PriceTier] | None = None,
        lookup_key: str | None = None,
        transfer_lookup_key: bool = False,
        nickname: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str,
    ) -> Price:
        """A one-time price (no ``recurring_interval``), a recurring one (``"month"``), or a
        metered one (``metered_by`` a meter id, billed in arrears from the meter's events;
        ``tiers`` graduate it, e.g. the first N messages at 0 cents)."""
        params = {"product": product_id, "currency": currency, "metadata": metadata or {}}
        if unit_amount_cents is not None:
            params["unit_amount"] = unit_amount_cents
        if recurring_interval:
            params["recurring"] = {"interval": recurring_interval}
            if metered_by:
                params["recurring"].update(usage_type="metered", meter=metered_by)
        if tiers:
            params.update(billing_scheme="tiered", tiers_mode="graduated", tiers=[])
            for tier in tiers:
                entry = {"up_to": "inf" if tier.up_to is None else tier.up_to}
                entry["unit_amount"] = tier.unit_amount_cents or 0
                if tier.flat_amount_cents:
                    entry["flat_amount"] = tier.flat_amount_cents
                params["tiers"].append(entry)
        if lookup_key:
            params["lookup_key"] = lookup_key
            if transfer_lookup_key:
                params["transfer_lookup_key"] = True
        if nickname:
            params["nickname"] = nickname
        data = self._call(
            self._client.v1.prices.create,
            params=params,
            idempotency_key=self._require_key(idempotency_key),
        )
        return Price.from_dict(data)

    def retrieve_price(self, price_id: str) -> Price:
        data = self._call(
            self._client.v1.prices.retrieve,
            price_id,
            params={"expand": ["product", "tiers"]},
            read=True,
        )
        return Price.from_dict(data)

    def archive_price(self, price_id: str) -> Price:
        """Stop offering a price (new Checkouts, the portal's plan choices); subscriptions on it
        keep it. Sets an absolute state, so a repeat does nothing more."""
        data = self._call(self._client.v1.prices.update, price_id, params={"active": False})
        return Price.from_dict(data)

    def list_prices(
        self,
        *,
        lookup_keys: list[str] | None = None,
        product_id: str | None = None,
        active: bool | None = True,
    ) -> list[Price]:
        """Prices with their product and tiers expanded, newest first."""
        params: dict = {"limit": 100, "expand": ["data.product", "data.tiers"]}
        if lookup_keys:
            params["lookup_keys"] = list(lookup_keys)
        if product_id:
            params["product"] = product_id
        if active is not None:
            params["active"] = active
        return [
            Price.from_dict(item) for item in self._list(self._client.v1.prices.list, params=params)
        ]

    def price_by_lookup_key(self, lookup_key: str) -> Price | None:
        prices = self.list_prices(lookup_keys=[lookup_key])
        return prices[0] if prices else None

    # --- Checkout and the billing portal ------------------------------------------------------

    def create_checkout_session(
        self,
        *,
        price_id: str,
        success_url: str,
        cancel_url: str,
        customer_id: str | None = None,
        customer_email: str | None = None,
        setup_fee_price_id: str | None = None,
        metered_price_id: str | None = None,
        client_reference_id: str | None = None,
        subscription_metadata: dict | None = None,
        metadata: dict | None = None,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted Checkout page for a subscription to ``price_id``; ``setup_fee_price_id`` (a
        one-time price) is charged on the first invoice only; ``metered_price_id`` adds the
        overage item. Put ``{CHECKOUT_SESSION_ID}`` in ``success_url`` to get the session id
        back. Fulfil from the ``checkout.session.completed`` webhook, not from the redirect."""
        line_items = [{"price": price_id, "quantity": 1}]
        if setup_fee_price_id:
            line_items.append({"price": setup_fee_price_id, "quantity": 1})
        if metered_price_id:
            line_items.append({"price": metered_price_id})
        params = {
            "mode": "subscription",
            "line_items": line_items,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata or {},
            "subscription_data": {"metadata": subscription_metadata or {}},
        }
        if customer_id:
            params["customer"] = customer_id
        elif customer_email:
            params["customer_email"] = customer_email
        if client_reference_id:
            params["client_reference_id"] = client_reference_id
        data = self._call(
            self._client.v1.checkout.sessions.create,
            params=params,
            idempotency_key=self._require_key(idempotency_key),
        )
        return CheckoutSession.from_dict(data)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """With its subscription expanded, to fulfil from the session alone."""
        data = self._call(
            self._client.v1.checkout.sessions.retrieve,
            session_id,
            params={"expand": ["subscription"]},
            read=True,
        )
        return CheckoutSession.from_dict(data)

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        data = self._call(
            self._client.v1.checkout.sessions.expire,
            session_id,
            idempotency_key=f"expire:{session_id}",
        )
        return CheckoutSession.from_dict(data)

    def create_portal_session(
        self, *, customer_id: str, return_url: str, idempotency_key: str
    ) -> PortalSession:
        """The billing portal, where the customer changes plan, cancels or updates the card.
        Sessions are short-lived: create one each time the customer asks for it (a fresh key
        per click is fine here)."""
        data = self._call(
            self._client.v1.billing_portal.sessions.create,
            params={"customer": customer_id, "return_url": return_url},
            idempotency_key=self._require_key(idempotency_key),
        )
        return PortalSession.from_dict(data)

    # --- Subscriptions -----------------------------------------------------------------------

    def retrieve_subscription(self, subscription_id: str) -> Subscription:
        data = self._call(self._client.v1.subscriptions.retrieve, subscription_id, read=True)
        return Subscription.from_dict(data)

    def list_subscriptions(self, customer_id: str, *, status: str = "all") -> list[Subscription]:
        """Every subscription of the customer (``status="all"`` includes canceled ones)."""
        params = {"customer": customer_id, "status": status, "limit": 100}
        items = self._list(self._client.v1.subscriptions.list, params=params)
        return [Subscription.from_dict(item) for item in items]

    def change_subscription_price(
        self,
        subscription_id: str,
        *,
        new_price_id: str,
        proration_behavior: str = "create_prorations",
        idempotency_key: str | None = None,
    ) -> Subscription:
        """Upgrade or downgrade: the plan item moves to ``new_price_id`` (metered items stay),
        and a pending cancellation at period end is withdrawn (changing plan means staying).
        ``proration_behavior``: "create_prorations" (credit/charge on the next invoice),
        "always_invoice" (now) or "none"."""
        current = self.retrieve_subscription(subscription_id)
        plan_item = current.plan_item
        if plan_item is None:
            raise ValueError(f"Subscription {subscription_id} has no plan item to change.")
        params = {
            "items": [{"id": plan_item.id, "price": new_price_id}],
            "proration_behavior": proration_behavior,
            "cancel_at_period_end": False,
        }
        data = self._call(
            self._client.v1.subscriptions.update,
            subscription_id,
            params=params,
            idempotency_key=idempotency_key,
        )
        return Subscription.from_dict(data)

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool) -> Subscription:
        """``at_period_end``: keep it until the paid period ends (undo with
        ``resume_subscription``); otherwise end it now."""
        if at_period_end:
            data = self._call(
                self._client.v1.subscriptions.update,
                subscription_id,
                params={"cancel_at_period_end": True},
            )
        else:
            # Keyed by the subscription: a repeated cancel replays the first answer instead of
            # failing on an already canceled subscription.
            data = self._call(
                self._client.v1.subscriptions.cancel,
                subscription_id,
                idempotency_key=f"cancel-now:{subscription_id}",
            )
        return Subscription.from_dict(data)

    def resume_subscription(self, subscription_id: str) -> Subscription:
        """Undo a cancellation at period end."""
        data = self._call(
            self._client.v1.subscriptions.update,
            subscription_id,
            params={"cancel_at_period_end": False},
        )
        return Subscription.from_dict(data)

    # --- Invoices ----------------------------------------------------------------------------

    def list_invoices(self, customer_id: str, *, limit: int = 24) -> list[Invoice]:
        """The customer's most recent invoices, newest first."""
        params = {"customer": customer_id, "limit": limit}
        try:
            page = self._client.v1.invoices.list(params=params)
        except stripe.StripeError as error:
            raise from_stripe_error(error, retry_safe=True) from error
        return [Invoice.from_dict(item.to_dict()) for item in page.data]

    def retrieve_invoice(self, invoice_id: str) -> Invoice:
        return Invoice.from_dict(
            self._call(self._client.v1.invoices.retrieve, invoice_id, read=True)
        )

    def pay_invoice(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        """Charge an open invoice now (e.g. "retry payment" after the customer changed card).
        Raises PaymentDeclinedError when the card is refused again."""
        data = self._call(
            self._client.v1.invoices.pay,
            invoice_id,
            idempotency_key=self._require_key(idempotency_key),
        )
        return Invoice.from_dict(data)

    # --- Billing Meters ----------------------------------------------------------------------

    def create_meter(
        self,
        *,
        event_name: str,
        display_name: str,
        customer_payload_key: str = "stripe_customer_id",
        value_payload_key: str = "value",
        idempotency_key: str,
    ) -> Meter:
        """A meter summing ``payload[value_payload_key]`` per customer. Stripe allows one
        meter per event name and no change after creation (except the display name)."""
        params = {
            "event_name": event_name,
            "display_name": display_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": customer_payload_key},
            "value_settings": {"event_payload_key": value_payload_key},
        }
        data = self._call(
            self._client.v1.billing.meters.create,
            params=params,
            idempotency_key=self._require_key(idempotency_key),
        )
        return Meter.from_dict(data)

    def list_meters(self, *, status: str | None = "active") -> list[Meter]:
        params: dict = {"limit": 100}
        if status:
            params["status"] = status
        items = self._list(self._client.v1.billing.meters.list, params=params)
        return [Meter.from_dict(item) for item in items]

    def create_meter_event(
        self,
        *,
        event_name: str,
        stripe_customer_id: str,
        value: int,
        identifier: str,
        timestamp: datetime | None = None,
    ) -> MeterEvent:
        """Report usage: ``value`` units for the customer. ``identifier`` is the idempotency
        handle (Stripe keeps the first event for an identifier for at least 24 hours), e.g.
        ``f"messages:{org.id}:{hour:%Y%m%d%H}"`` for one aggregated event per hour.
        ``timestamp`` must lie within the past 35 days."""
        params = {
            "event_name": event_name,
            "payload": {"stripe_customer_id": stripe_customer_id, "value": str(int(value))},
            "identifier": self._require_key(identifier),
        }
        if timestamp is not None:
            params["timestamp"] = int(timestamp.timestamp())
        data = self._call(
            self._client.v1.billing.meter_events.create,
            params=params,
            idempotency_key=f"meter-event:{identifier}",
        )
        return MeterEvent.from_dict(data)

    def meter_usage_total(
        self, meter_id: str, *, customer_id: str, start: datetime, end: datetime
    ) -> int:
        """The meter's aggregated value for the customer over [start, end): what Stripe will
        bill. Stripe processes meter events asynchronously, so recent ones may be missing."""
        params = {
            "customer": customer_id,
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
        }
        summaries = self._list(
            self._client.v1.billing.meters.event_summaries.list, meter_id, params=params
        )
        return int(sum(summary["aggregated_value"] for summary in summaries))

    # --- Webhooks ----------------------------------------------------------------------------

    def verify_webhook(
        self,
        payload: bytes | str,
        signature_header: str | None,
        *,
        secret: str | None = None,
        tolerance: int | None = None,
    ) -> WebhookEvent:
        """The event in a webhook request, once its ``Stripe-Signature`` proves Stripe sent it
        recently. Pass the raw request body (``request.body``), never re-serialised JSON.
        Raises InvalidWebhookError otherwise."""
        secret = secret if secret is not None else self.webhook_secret
        tolerance = self.webhook_tolerance if tolerance is None else tolerance
        if not secret:
            raise InvalidWebhookError(
                "no webhook secret configured", plain_reason="STRIPE_WEBHOOK_SECRET is not set."
            )
        if tolerance <= 0:  # 0 would switch the replay check off
            raise ValueError("The webhook tolerance must be a positive number of seconds.")
        try:
            event = self._client.construct_event(payload, signature_header, secret, tolerance)
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhookError(
                str(error), code="invalid_signature", plain_reason="The signature is not valid."
            ) from error
        except ValueError as error:
            raise InvalidWebhookError(
                str(error), code="invalid_payload", plain_reason="The body is not a Stripe event."
            ) from error
        data = event.to_dict()
        return WebhookEvent(
            id=data["id"],
            type=data["type"],
            created=_time(data["created"]),
            api_version=data.get("api_version"),
            livemode=bool(data.get("livemode")),
            object=data["data"]["object"],
            previous_attributes=data["data"].get("previous_attributes"),
            payload=data,
        )


@functools.lru_cache(maxsize=8)
def _gateway_for(options: tuple) -> StripeGateway:
    return StripeGateway(**dict(options))


def gateway() -> StripeGateway:
    """The gateway configured by the STRIPE_* settings (one per distinct configuration, so its
    connection pool is reused)."""
    options = {
        "secret_key": settings.STRIPE_SECRET_KEY,
        "api_base": settings.STRIPE_API_BASE,
        "webhook_secret": settings.STRIPE_WEBHOOK_SECRET,
        "webhook_tolerance": settings.STRIPE_WEBHOOK_TOLERANCE,
        "connect_timeout": settings.STRIPE_CONNECT_TIMEOUT,
        "read_timeout": settings.STRIPE_READ_TIMEOUT,
        "max_network_retries": settings.STRIPE_MAX_NETWORK_RETRIES,
    }
    return _gateway_for(tuple(sorted(options.items())))
