import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsplatform.settings")
django_application = get_wsgi_application()

from smsplatform.callback_lane import StatusCallbackLane  # noqa: E402 - needs Django set up

application = StatusCallbackLane(django_application)
