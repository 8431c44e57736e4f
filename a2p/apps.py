from django.apps import AppConfig


class A2PConfig(AppConfig):
    name = "a2p"
    verbose_name = "A2P 10DLC registration"
