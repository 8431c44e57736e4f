"""How fast an organization may text, from its approved registration (twilio-a2p.md §4).

Twilio counts throughput in SMS segments per second ("MPS"), per carrier: AT&T's limit belongs to
the campaign (its message class, reported in the campaign's ``rate_limits``), T-Mobile's and
Verizon's follow the brand's vetting score. Twilio queues what goes faster, so the platform
paces itself to the sum of the three (a mixed audience spreads over them):

    brand score   per carrier   total        (Low-Volume Standard brands skip vetting: score 0)
    75-100        75            225
    50-74         40            120
    1-49, or 0    4             12
    Low-volume mixed use case: 3.75 in all.

A campaign's own AT&T figure replaces the table's when Twilio reports one.
"""

PER_CARRIER_BY_SCORE = [(75, 75.0), (50, 40.0), (1, 4.0)]
LOWEST_TIER = 4.0
LOW_VOLUME_USE_CASE_TOTAL = 3.75
# T-Mobile caps a brand's segments per day by tier (twilio-a2p.md §4); for the docs and the
# console: the platform does not stop sending at it, T-Mobile answers "undelivered".
TMOBILE_DAILY_CAP_BY_TIER = {"TOP": 200_000, "HIGH_MID": 40_000, "LOW_MID": 10_000, "LOW": 2_000}


def per_carrier_rate(brand_score: int | None) -> float:
    for floor, rate in PER_CARRIER_BY_SCORE:
        if (brand_score or 0) >= floor:
            return rate
    return LOWEST_TIER


def att_rate(rate_limits: dict | None) -> float | None:
    """The campaign's AT&T segments per second, when Twilio reported a usable one."""
    att = (rate_limits or {}).get("att") or {}
    try:
        mps = float(att.get("mps"))
    except (TypeError, ValueError):
        return None
    return mps if mps > 0 else None


def segments_per_second(
    *, brand_score: int | None, rate_limits: dict | None, use_case: str
) -> float:
    tier = per_carrier_rate(brand_score)
    total = (att_rate(rate_limits) or tier) + tier + tier  # AT&T, T-Mobile, Verizon
    if use_case == "LOW_VOLUME":
        total = min(total, LOW_VOLUME_USE_CASE_TOTAL)
    return total


def tmobile_daily_cap(rate_limits: dict | None) -> int | None:
    tier = ((rate_limits or {}).get("tmobile") or {}).get("brand_tier")
    return TMOBILE_DAILY_CAP_BY_TIER.get(str(tier).upper()) if tier else None
