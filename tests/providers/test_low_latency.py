"""A sending session's process settings (smsplatform.providers.low_latency): changed while at
least one session runs, restored after the last, and no garbage kept alive by them."""

import gc
import sys
import weakref

from smsplatform.providers.low_latency import SWITCH_INTERVAL, LowLatency, short_switch_interval


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_collector_leaves_the_heap_alone_during_a_session_and_gets_it_back_after():
    interval = sys.getswitchinterval()
    with LowLatency():
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() <= SWITCH_INTERVAL
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == interval


def test_overlapping_sessions_restore_the_settings_only_when_the_last_one_ends():
    interval = sys.getswitchinterval()
    first, second = LowLatency().__enter__(), LowLatency().__enter__()
    first.__exit__(None, None, None)
    assert gc.get_freeze_count() > 0 and sys.getswitchinterval() <= SWITCH_INTERVAL
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == interval


def test_garbage_from_before_or_during_a_session_is_still_collected():
    before = weakref.ref(Node())
    with LowLatency():
        assert before() is None  # collected on the way in, not frozen
        during = weakref.ref(Node())
        gc.collect()
        assert during() is None  # what the session allocates is collected as usual


def test_a_short_switch_interval_inside_a_session_leaves_the_sessions_setting_alone():
    # An import (messaging.importing.pipeline) and a sending session in one process: whichever
    # ends first must not restore the interval under the other.
    interval = sys.getswitchinterval()
    session = LowLatency().__enter__()
    with short_switch_interval():
        pass
    assert sys.getswitchinterval() <= SWITCH_INTERVAL
    session.__exit__(None, None, None)
    assert sys.getswitchinterval() == interval
