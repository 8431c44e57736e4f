from celery import shared_task

from messaging import delivery


@shared_task(autoretry_for=(delivery.TransientSendFailure,), retry_backoff=5, max_retries=8)
def send_message(message_id: int):
    """Send one queued text (keyword reply, confirmation). Safe to run twice: only a message
    still waiting to be sent is claimed."""
    delivery.deliver(message_id)
