from django.apps import AppConfig


class FakeAppConfig(AppConfig):
    name = "tests.fakeapp"
    label = "fakeapp"
