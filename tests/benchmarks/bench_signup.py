"""Sign-up to dashboard, as a visitor experiences it: a real Chromium fills the form on a warm
granian and the clock runs from the click to the dashboard being rendered on the new
organization's own domain. Also the server-side cost of creating an organization (cloning the
template schema) as the number of organizations grows."""

import os
import time
import uuid

from tests.benchmarks.harness import MS_HEADER, ms_row, write_section
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pages import fill_sign_up_form

SIGNUPS = 20
CREATE_BATCHES = (50, 50, 50)


def browser_sign_ups(bench, count):
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        for i in range(count + 3):  # the first three warm the workers up and are not counted
            context = browser.new_context()
            page = context.new_page()
            slug = f"bench-{uuid.uuid4().hex[:10]}"
            page.goto(bench.site_url + "/")
            fill_sign_up_form(
                page,
                business_name=f"Bench Shop {i}",
                slug=slug,
                email=f"{slug}@example.com",
                password="a-long-benchmark-passphrase",
            )
            started = time.perf_counter()
            page.get_by_role("button", name="Create workspace").click()
            page.wait_for_url(f"http://{slug}.localhost:{bench.web_port}/")
            page.get_by_text(f"Welcome to Bench Shop {i}").wait_for()
            if i >= 3:
                timings.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return timings


def server_side_creations(batches):
    """create_organization in-process, both ways, as the database fills up: from a spare schema
    (the pool is topped up between sign-ups, untimed, as the worker does) and by cloning."""
    from django.db import connection

    from organizations import services
    from organizations.models import Organization, User

    email = f"owner-{uuid.uuid4().hex[:6]}@bench.test"
    owner = User.objects.create_user(email=email, password=None)
    rows = []
    for size in batches:
        before = Organization.objects.customers().count()
        spare, clone = [], []
        for i in range(size):
            use_spare = i % 2 == 0
            if use_spare:
                services.replenish_spare_schemas(target=1)
            else:
                _drain_spares()
            started = time.perf_counter()
            services.create_organization(
                name="Server Bench", slug=f"srv-{uuid.uuid4().hex[:10]}", owner=owner
            )
            (spare if use_spare else clone).append(time.perf_counter() - started)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_namespace")
            schemas = cursor.fetchone()[0]
        after = before + size
        rows.append(
            ms_row(f"from a spare schema, {before}→{after} orgs ({schemas} schemas)", spare)
        )
        rows.append(ms_row(f"by cloning the template, {before}→{after} orgs", clone))
    return rows


def _drain_spares():
    from organizations.models import Organization

    for spare in Organization.objects.filter(kind=Organization.Kind.SPARE):
        spare.delete(force_drop=True)


def run(bench):
    bench.start_web()
    bench.start_worker()  # refills the spare-schema pool after each sign-up, as in production
    browser = browser_sign_ups(bench, SIGNUPS)
    bench.stop()
    server_rows = server_side_creations(CREATE_BATCHES)
    body = f"""
Target: sign-up to dashboard under 1 second.

{MS_HEADER}
{ms_row("sign-up click → dashboard rendered (Chromium, 3 round trips)", browser)}

Server side, `create_organization` alone (in-process, alternating the two ways):

{MS_HEADER}
{chr(10).join(server_rows)}

The browser figure includes hashing the new password (PBKDF2, Django's default 1,000,000
iterations, about 200 ms by itself), creating the organization and its schema, and the two
redirects that carry the sign-in to the organization's own domain. A sign-up renames one of a
few spare schemas that a Celery worker keeps cloned and migrated in advance; cloning the
`tenant_template` schema in the request is the fallback when the pool is empty, and its cost
grows with the number of schemas in the database.
"""
    write_section("signup", "Sign-up to dashboard", body)
    print(body)
