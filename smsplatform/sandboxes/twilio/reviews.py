"""Reviews that take time at Twilio: TrustHub bundles, brands (TCR) and campaigns (carriers).

Each review moves through its statuses over ``review_delay`` seconds (half of it to the
in-review status, the rest to the verdict). Verdicts are approvals unless the input is
designated to fail (magic.py, docs/sandboxes.md):

- a bundle whose evaluation is not compliant at review time is twilio-rejected, with the codes
  of what is missing; one whose FriendlyName carries SANDBOX-FAIL-<code> too, with that code;
- a brand FAILS with 30795 when its business registration number (EIN) is 000000000, or with
  <code> when the business name carries SANDBOX-FAIL-<code>; it waits for its two bundles;
- a campaign FAILS with <code> when its description carries SANDBOX-FAIL-<code>.

Due times are stored with the records, so a restarted sandbox carries on where it stopped.
TrustHub bundles call their StatusCallback on each change (a POST with AccountSid, BundleSid,
Status, FailureReason, signed: Twilio's exact format is unconfirmed, see twilio-a2p.md §1.1).
Brands and campaigns have no callback URL at Twilio: their verdicts go to the account's Event
Streams subscriptions (events.py), and can be polled.
"""

import asyncio
import logging
import secrets

from smsplatform.sandboxes.twilio import magic
from smsplatform.sandboxes.twilio.wire import now

logger = logging.getLogger("twilio_sandbox")

BRAND_ERRORS = {
    30795: "The submitted US EIN is invalid or does not match the business name.",
}


class Reviews:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    @property
    def store(self):
        return self.sandbox.store

    @property
    def delay(self) -> float:
        return self.sandbox.knobs.review_delay

    # --- scheduling --------------------------------------------------------------------------

    def _schedule(self, kind: str, record: dict, stage: str, seconds: float) -> None:
        """Run review ``stage`` of ``record`` in ``seconds`` (stored: survives a restart)."""
        token = secrets.token_hex(4)  # a resubmission makes earlier timers stale
        record = {
            **record,
            "review_stage": stage,
            "review_due": now() + seconds,
            "review_token": token,
        }
        self.store.put(kind, record)
        asyncio.get_running_loop().call_later(seconds, self._run, kind, record["sid"], token)

    def resume(self) -> None:
        loop = asyncio.get_running_loop()
        for kind in ("bundle", "brand", "campaign"):
            for record in self.store.all(kind):
                if record.get("review_stage"):
                    delay = max(0.0, record["review_due"] - now())
                    loop.call_later(delay, self._run, kind, record["sid"], record["review_token"])

    def _run(self, kind: str, sid: str, token: str) -> None:
        record = self.store.get(kind, sid)
        if record is None or record.get("review_token") != token:
            return  # superseded (resubmitted meanwhile)
        try:
            getattr(self, f"_{kind}_{record['review_stage']}")(record)
        except Exception:
            logger.exception("twilio sandbox: review of %s failed", sid)

    def _finish(self, kind: str, record: dict, **changes) -> dict:
        record = {**record, **changes, "review_stage": None, "review_token": None}
        record["date_updated"] = now()
        self.store.put(kind, record)
        return record

    # --- bundles -----------------------------------------------------------------------------

    def bundle_submitted(self, bundle: dict) -> None:
        self._schedule("bundle", bundle, "start", self.delay / 2)

    def _bundle_start(self, bundle: dict) -> None:
        bundle = {**bundle, "status": "in-review", "date_updated": now()}
        self._schedule("bundle", bundle, "verdict", self.delay / 2)
        self._notify(bundle)

    def _bundle_verdict(self, bundle: dict) -> None:
        from smsplatform.sandboxes.twilio.trusthub import evaluate

        codes = [
            result["error_code"]
            for result in evaluate(self.store, bundle, bundle["policy_sid"])
            if not result["passed"]
        ]
        marked = magic.fail_code(bundle["friendly_name"])
        if marked:
            codes.append(marked)
        if codes:
            bundle = self._finish(
                "bundle", bundle, status="twilio-rejected", errors=[{"code": c} for c in codes]
            )
        else:
            bundle = self._finish(
                "bundle",
                bundle,
                status="twilio-approved",
                errors=None,
                valid_until=now() + 365 * 86400,
            )
        self._notify(bundle)

    def _notify(self, bundle: dict) -> None:
        if not bundle.get("status_callback"):
            return
        params = {
            "AccountSid": bundle["account_sid"],
            "BundleSid": bundle["sid"],
            "Status": bundle["status"],
        }
        if bundle["status"] == "twilio-rejected":
            params["FailureReason"] = ", ".join(str(e["code"]) for e in bundle["errors"] or [])
        self.sandbox.callbacks.enqueue(bundle["status_callback"], params, bundle)

    # --- brands ------------------------------------------------------------------------------

    def brand_submitted(self, brand: dict) -> None:
        self._schedule("brand", brand, "start", self.delay / 2)

    def _brand_start(self, brand: dict) -> None:
        brand = {**brand, "status": "IN_REVIEW", "date_updated": now()}
        self._schedule("brand", brand, "verdict", self.delay / 2)

    def _brand_verdict(self, brand: dict) -> None:
        profile = self.store.get("bundle", brand["customer_profile_bundle_sid"])
        product = self.store.get("bundle", brand["a2p_profile_bundle_sid"])
        statuses = {profile["status"], product["status"]}
        if statuses - {"twilio-approved", "twilio-rejected"}:
            self._schedule("brand", brand, "verdict", self.delay / 2)  # wait for the bundles
            return
        errors = []
        for bundle in (profile, product):
            errors += [
                {"code": e["code"], "description": "A TrustHub bundle was rejected", "fields": []}
                for e in bundle["errors"] or []
            ]
        business = self._business_information(profile)
        ein = "".join(
            ch for ch in str(business.get("business_registration_number", "")) if ch.isdigit()
        )
        if ein == magic.INVALID_EIN:
            errors.append(
                {
                    "code": 30795,
                    "description": BRAND_ERRORS[30795],
                    "fields": ["business_registration_number"],
                }
            )
        marked = magic.fail_code(business.get("business_name"))
        if marked:
            errors.append({"code": marked, "description": "Designated to fail", "fields": []})
        if errors:
            brand = self._finish(
                "brand",
                brand,
                status="FAILED",
                errors=errors,
                identity_status="UNVERIFIED",
                failure_reason=errors[0]["description"],
            )
        else:
            brand = self._finish(
                "brand",
                brand,
                status="APPROVED",
                errors=[],
                identity_status="VERIFIED",
                tcr_id="B" + secrets.token_hex(3).upper(),
                brand_score=0 if brand["skip_automatic_sec_vet"] else 80,
            )
        self.sandbox.events.brand_changed(brand)

    def _business_information(self, profile: dict) -> dict:
        for assignment in self.store.where("assignment", bundle_sid=profile["sid"]):
            end_user = self.store.get("end_user", assignment["object_sid"])
            if end_user and end_user["type"] == "customer_profile_business_information":
                return end_user["attributes"]
        return {}

    # --- campaigns ---------------------------------------------------------------------------

    def campaign_submitted(self, campaign: dict) -> None:
        self._schedule("campaign", campaign, "verdict", self.delay)
        self.sandbox.events.campaign_changed(campaign)

    def _campaign_verdict(self, campaign: dict) -> None:
        code = magic.fail_code(campaign["description"])
        if code:
            campaign = self._finish(
                "campaign",
                campaign,
                campaign_status="FAILED",
                errors=[
                    {
                        "code": code,
                        "description": "The campaign was rejected (designated to fail).",
                        "fields": ["description"],
                    }
                ],
            )
            self.sandbox.events.campaign_changed(campaign)
            return
        brand = self.store.get("brand", campaign["brand_registration_sid"])
        high_score = (brand or {}).get("brand_score") or 0
        mps = 75 if high_score >= 75 else 4
        campaign = self._finish(
            "campaign",
            campaign,
            campaign_status="VERIFIED",
            campaign_id="C" + secrets.token_hex(3).upper(),
            errors=[],
            rate_limits={
                "att": {"mps": mps, "msg_class": "A" if mps == 75 else "T"},
                "tmobile": {"brand_tier": "TOP" if high_score >= 75 else "LOW"},
            },
        )
        service = self.store.get("service", campaign["messaging_service_sid"])
        if service is not None:
            self.store.put("service", {**service, "us_app_to_person_registered": True})
        self.sandbox.events.campaign_changed(campaign)
