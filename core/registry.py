"""
What the project wiring collects from each app, so that adding an app means adding one line to
``PROJECT_APPS`` in the settings and nothing else in portal.

An app declares its parts in modules of its own (each optional):

========================  ==========================  =========================================
module                    name                        collected by
========================  ==========================  =========================================
``<app>/urls.py``         ``urlpatterns``             ``portal/urls.py`` (the site's pages)
``<app>/urls.py``         ``api_urlpatterns``         ``portal/urls.py`` (under ``/api/v1/``)
``<app>/notifications.py`` ``TEXTS``                  ``core.notifications``
``<app>/staff.py``        ``STAFF_PERMISSIONS``       ``core.staff`` (after every migrate)
``<app>/tasks.py``        ``BEAT_SCHEDULE``           ``portal/celery.py`` (when beat starts)
``<app>/panels.py``       ``MERCHANT_HOME_PANELS``    ``core.panels`` (the merchant's home)
``<app>/demo.py``         ``seed_demo``               ``manage.py seed_demo``
``<app>/jobs.py``         ``JOB_KINDS``               ``core.jobs`` (background jobs)
``<app>/health.py``       ``REPORTS``                 ``portal/health.py`` (``/healthz``)
``<app>/metrics.py``      ``COLLECTORS``              ``core.metrics`` (``/metrics``)
========================  ==========================  =========================================
"""

import functools
from collections.abc import Callable, Iterator
from importlib import import_module
from itertools import chain

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import include, path
from django.utils.module_loading import module_has_submodule

_caches: list = []


def project_apps() -> list[str]:
    """The project's own apps, in the order the settings list them (dependencies first)."""
    return list(settings.PROJECT_APPS)


def declarations(module_name: str, name: str) -> Iterator[tuple[str, object]]:
    """(app label, value) for every project app whose ``<module_name>`` module defines
    ``name``, in ``PROJECT_APPS`` order."""
    configs = {config.name: config for config in apps.get_app_configs()}
    for app_name in project_apps():
        app_config = configs[app_name]
        if not module_has_submodule(app_config.module, module_name):
            continue
        module = import_module(f"{app_config.name}.{module_name}")
        if hasattr(module, name):
            yield app_config.label, getattr(module, name)


def merged(module_name: str, name: str) -> dict:
    """Every app's dict of ``name`` in one; a key declared by two apps is a mistake."""
    result: dict = {}
    for label, declared in declarations(module_name, name):
        clash = set(result) & set(declared)
        if clash:
            raise ValueError(f"{label}.{module_name}.{name} declares {sorted(clash)} again")
        result.update(declared)
    return result


def cached(function: Callable) -> Callable:
    """Cache what a collector returns; forgotten when the apps change (tests do that)."""
    wrapped = functools.cache(function)
    _caches.append(wrapped)
    return wrapped


@receiver(setting_changed)
def _forget(*, setting, **kwargs) -> None:
    if setting in {"PROJECT_APPS", "INSTALLED_APPS"}:
        for wrapped in _caches:
            wrapped.cache_clear()


def app_urlpatterns(*, root: str) -> list:
    """Every project app's pages (its ``urls.urlpatterns``, in its own namespace), except the
    module ``root`` that collects them."""
    modules = [
        f"{apps.get_app_config(label).name}.urls"
        for label, _patterns in declarations("urls", "urlpatterns")
    ]
    return [path("", include(module)) for module in modules if module != root]


def api_urlpatterns() -> list:
    """Every project app's ``urls.api_urlpatterns``, for one ``/api/v1/`` namespace."""
    return list(
        chain.from_iterable(patterns for _app, patterns in declarations("urls", "api_urlpatterns"))
    )
