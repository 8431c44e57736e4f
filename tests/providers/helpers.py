import asyncio
from concurrent.futures import ThreadPoolExecutor


def run_in_own_thread(coroutine):
    """asyncio.run, also when the test's thread has a loop running (Playwright's sync API keeps
    one running for the rest of the session once the browser tests have run)."""
    with ThreadPoolExecutor(max_workers=1) as helper:
        return helper.submit(asyncio.run, coroutine).result()
