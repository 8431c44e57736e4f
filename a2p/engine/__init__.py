"""The registration engine: carries an organization's A2P 10DLC registration through Twilio's
sequence (twilio-a2p.md §1), one step at a time, in the organization's subaccount.

    advance(id)   run every step that can run now, until the registration must wait: for a
                  Twilio review, for the customer (a rejection, choosing a number), or after a
                  failed call (retried with backoff)
    refresh(id)   read Twilio's verdicts (after a webhook, or by the periodic poll) and move
                  the registration on

The state machine (docs/a2p.md): ``stage`` says where in Twilio's sequence the registration is,
``status`` whether it is working, in review, waiting on the customer, failed, on hold or
complete. Every change goes through ``transition`` and appends a RegistrationEvent.

Idempotency, so that a retried step never creates a second brand or profile:
- a SID is saved the moment Twilio returns it, and a step whose SID is known is not run again;
- before a create leaves, its step is recorded in ``creates_sent`` (committed); a retry of a
  step found there looks up what the earlier call may have made (by name, or the brand by its
  profile) and adopts it instead of creating again;
- one engine at a time per registration (a lock in Redis), and every request waits for the
  platform-wide registration slot (a2p.throttle).

Modules: history (transitions, events, the lock), run (what every step uses), steps (what
each sends Twilio), corrections (a resubmission), advance (running them), verdicts (Twilio's
answers).
"""

from a2p.engine.advance import advance, next_step
from a2p.engine.corrections import CORRECTIONS
from a2p.engine.history import enqueue_advance, record_event, registration_lock, transition
from a2p.engine.run import NeedsCustomer
from a2p.engine.steps import STEPS
from a2p.engine.verdicts import refresh

__all__ = [
    "CORRECTIONS",
    "STEPS",
    "NeedsCustomer",
    "advance",
    "enqueue_advance",
    "next_step",
    "record_event",
    "refresh",
    "registration_lock",
    "transition",
]
