from django.apps import AppConfig


class SmsPlatformConfig(AppConfig):
    name = "smsplatform"
    verbose_name = "Platform"
