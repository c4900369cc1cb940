from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo program for `make run` and for people to look at. It sits on top of every
    other app because a realistic program touches all of them."""

    name = "demo"
