from celery import shared_task
from django.core.cache import cache

from organizations import services


@shared_task
def replenish_spare_schemas():
    """Top the pool of spare schemas back up. One at a time across all workers: two replenishers
    would only overshoot the pool."""
    if not cache.add("lock:replenish-spare-schemas", 1, timeout=600):
        return 0
    try:
        return services.replenish_spare_schemas()
    finally:
        cache.delete("lock:replenish-spare-schemas")
