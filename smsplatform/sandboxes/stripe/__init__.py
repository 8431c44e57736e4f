"""A local stand-in for api.stripe.com (API version 2024-04-10): the /v1 endpoints the platform
uses, hosted Checkout and billing portal pages, signed webhooks, and a /_sandbox control surface.
Run it with ``python manage.py stripe_sandbox``; docs/stripe-sandbox.md describes it."""
