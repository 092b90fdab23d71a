"""
Blocks an app adds to the merchant's home page (``/merchant/``), declared in its
``panels.py`` as ``MERCHANT_HOME_PANELS`` (see core/registry.py): the money overview from
settlements, the open tickets from the desk. Each panel decides from the request whether it has
anything to show; the home page renders those that do, in ``order``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from core import registry


@dataclass(frozen=True)
class Panel:
    # Rendered with the panel's context on top of the page's.
    template: str
    # The panel's context for this request, or None when it has nothing to show.
    context: Callable[[HttpRequest], dict | None]
    order: int = 100


@dataclass(frozen=True)
class ShownPanel:
    template: str
    context: dict


def merchant_home_panels(request: HttpRequest) -> list[ShownPanel]:
    panels = sorted(
        (
            panel
            for _label, declared in registry.declarations("panels", "MERCHANT_HOME_PANELS")
            for panel in declared
        ),
        key=lambda panel: panel.order,
    )
    shown = []
    for panel in panels:
        context = panel.context(request)
        if context is not None:
            shown.append(ShownPanel(panel.template, context))
    return shown
