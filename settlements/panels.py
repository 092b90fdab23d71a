"""The money overview on the merchant's home page (collected by core.panels)."""

from core.panels import Panel
from portal.models import Merchant
from settlements import charts, selectors

# Merchants who take (or took) payments see their money first.
TRADING_STATUSES = {Merchant.Status.ACTIVE, Merchant.Status.SUSPENDED, Merchant.Status.CLOSED}


def money_overview(request) -> dict | None:
    merchant = getattr(request.user, "merchant", None)
    if merchant is None or merchant.status not in TRADING_STATUSES:
        return None
    dashboard = selectors.dashboard_summary(merchant=merchant)
    return {"dashboard": dashboard, "chart": charts.daily_chart(dashboard.series)}


MERCHANT_HOME_PANELS = [Panel("settlements/_home_panel.html", money_overview, order=10)]
