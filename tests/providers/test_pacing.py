"""Backoff and rate limiting for provider calls."""

import asyncio
import random
import time

import pytest

from smsplatform.providers.errors import AmbiguousOutcome, RetryableError
from smsplatform.providers.pacing import (
    AdaptiveConcurrency,
    AsyncRateLimiter,
    RoundTripPacer,
    backoff_delay,
    burst_for,
    call_with_retries,
)
from tests.providers.helpers import run_in_own_thread


def test_backoff_grows_exponentially_with_half_of_each_step_random():
    rng = random.Random(7)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        delays = [backoff_delay(attempt, base=0.5, cap=60, rng=rng) for _ in range(200)]
        assert min(delays) >= step / 2
        assert max(delays) <= step
        assert max(delays) - min(delays) > step / 4  # jittered, not one fixed value


def test_backoff_never_exceeds_its_cap():
    delays = [backoff_delay(attempt, base=0.5, cap=3) for attempt in range(1, 40)]
    assert max(delays) <= 3
    assert min(delays[5:]) >= 1.5


def test_retries_only_what_was_not_processed_and_stops_at_the_bound():
    calls, sleeps = [], []

    def always_throttled():
        calls.append(1)
        raise RetryableError("429")

    with pytest.raises(RetryableError):
        call_with_retries(always_throttled, max_attempts=4, base=1, cap=10, sleep=sleeps.append)
    assert len(calls) == 4
    assert len(sleeps) == 3
    assert sleeps[0] <= 1 < sleeps[2]


def test_never_retries_an_ambiguous_outcome():
    calls = []

    def timed_out():
        calls.append(1)
        raise AmbiguousOutcome("read timeout")

    with pytest.raises(AmbiguousOutcome):
        call_with_retries(timed_out, max_attempts=5, base=0, cap=0, sleep=lambda _: None)
    assert len(calls) == 1


def test_a_retry_that_succeeds_returns_its_value():
    outcomes = iter([RetryableError("429"), RetryableError("429"), "SM123"])

    def flaky():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retries(flaky, max_attempts=3, base=0, cap=0, sleep=lambda _: None) == "SM123"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_limiter_spaces_starts_evenly():
    clock = FakeClock()
    limiter = AsyncRateLimiter(4, clock=clock)  # one start every 0.25 s
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_rate_limiter_allows_a_burst_then_spaces():
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, burst=3, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2])


def test_a_fast_organization_may_start_50_ms_of_its_rate_at_once_a_slow_one_none():
    clock = FakeClock()
    fast = AsyncRateLimiter(1000, burst=burst_for(1000), clock=clock)
    assert [fast.reserve() for _ in range(51)] == pytest.approx([0] * 50 + [0.001])
    slow = AsyncRateLimiter(20, burst=burst_for(20), clock=clock)
    assert [slow.reserve() for _ in range(2)] == pytest.approx([0, 0.05])
    assert burst_for(None) == 1


def test_rate_limiter_does_not_bank_idle_time_beyond_the_burst():
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, clock=clock)
    limiter.reserve()
    clock.now += 60  # a minute of silence earns no burst of 600
    waits = [limiter.reserve() for _ in range(3)]
    assert waits == pytest.approx([0, 0.1, 0.2])


def test_a_pause_holds_everyone_back_then_spacing_resumes():
    clock = FakeClock()
    limiter = AsyncRateLimiter(10, clock=clock)
    limiter.reserve()
    limiter.pause(2.0)
    assert limiter.reserve() == pytest.approx(2.0)
    assert limiter.reserve() == pytest.approx(2.1)


def test_without_a_rate_only_pauses_hold_back():
    clock = FakeClock()
    limiter = AsyncRateLimiter(None, clock=clock)
    assert [limiter.reserve() for _ in range(3)] == [0, 0, 0]
    limiter.pause(1.5)
    assert limiter.reserve() == pytest.approx(1.5)


def test_rate_limiter_holds_real_coroutines_to_the_rate():
    async def run():
        limiter = AsyncRateLimiter(50)
        started = time.monotonic()
        await asyncio.gather(*(limiter.acquire() for _ in range(26)))
        return time.monotonic() - started

    elapsed = run_in_own_thread(run())
    assert elapsed >= 0.49  # 25 intervals of 20 ms after the first start
    assert elapsed < 1.5


def test_round_trip_pacing_waits_for_nothing_before_the_first_answer():
    pacer = RoundTripPacer(clock=FakeClock())
    assert [pacer.reserve(50) for _ in range(50)] == [0] * 50


def test_round_trip_pacing_spreads_a_clump_over_the_shortest_round_trip():
    clock = FakeClock()
    pacer = RoundTripPacer(gain=1.0, clock=clock)
    for round_trip in (0.130, 0.100, 0.115):
        pacer.observe(round_trip)
    # 50 answers at once: after a first pair, their follow-ups start 2 ms apart (100 ms / 50).
    waits = [pacer.reserve(50) for _ in range(50)]
    assert waits[:4] == pytest.approx([0, 0, 0.002, 0.004])
    assert waits[-1] == pytest.approx(0.096)
    clock.now += 1  # requests that come alone wait for nothing
    assert pacer.reserve(50) == 0


def test_round_trip_pacing_leaves_headroom_above_what_the_round_trip_allows():
    pacer = RoundTripPacer(clock=FakeClock())
    pacer.observe(0.1)
    waits = [pacer.reserve(50) for _ in range(51)]
    assert 0.06 < waits[-1] < 0.1  # the clump's last request starts within the round trip


def test_round_trip_pacing_follows_the_requests_allowed_in_flight():
    clock = FakeClock()
    pacer = RoundTripPacer(gain=1.0, clock=clock)
    pacer.observe(0.1)
    assert [pacer.reserve(10) for _ in range(3)] == pytest.approx([0, 0, 0.01])
    clock.now += 1
    # Halved after a 429: each start takes twice the share.
    assert [pacer.reserve(5) for _ in range(3)] == pytest.approx([0, 0, 0.02])


def test_round_trip_pacing_follows_a_network_that_slows_down_or_speeds_up():
    clock = FakeClock()
    pacer = RoundTripPacer(window=10, clock=clock)
    pacer.observe(0.1)
    for _ in range(3):  # two windows later, only the slower answers are remembered
        clock.now += 10
        pacer.observe(0.3)
    assert pacer.shortest_round_trip == pytest.approx(0.3)
    pacer.observe(0.05)
    assert pacer.shortest_round_trip == pytest.approx(0.05)


def test_adaptive_concurrency_halves_once_per_wave_of_push_backs():
    clock = FakeClock()

    async def run():
        limit = AdaptiveConcurrency(8, clock=clock)
        starts = [await limit.acquire() for _ in range(8)]
        clock.now += 1
        for started in starts[:5]:  # five 429s from requests of the same wave
            await limit.release(started, pushed_back=True)
        return limit

    limit = run_in_own_thread(run())
    assert limit.limit == 4


def test_adaptive_concurrency_grows_back_by_one_after_a_window_of_successes():
    clock = FakeClock()

    async def run():
        limit = AdaptiveConcurrency(4, clock=clock)
        started = await limit.acquire()
        clock.now += 1
        await limit.release(started, pushed_back=True)  # 4 -> 2
        clock.now += 1
        started = await limit.acquire()
        await limit.release(started, pushed_back=True)  # a later wave: 2 -> 1
        sizes = [limit.limit]
        for _ in range(5):
            started = await limit.acquire()
            await limit.release(started, pushed_back=False)
            sizes.append(limit.limit)
        return sizes

    assert run_in_own_thread(run()) == [1, 2, 2, 3, 3, 3]


def test_adaptive_concurrency_never_lets_more_than_the_limit_in():
    async def run():
        limit = AdaptiveConcurrency(3)
        peak = 0

        async def request():
            nonlocal peak
            started = await limit.acquire()
            peak = max(peak, limit.in_flight)
            await asyncio.sleep(0.01)
            await limit.release(started, pushed_back=False)

        await asyncio.gather(*(request() for _ in range(20)))
        return peak

    assert run_in_own_thread(run()) == 3
