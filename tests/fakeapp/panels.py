from core.panels import Panel


def fake_context(request):
    return {"fake": True} if request.GET.get("fake") else None


MERCHANT_HOME_PANELS = [Panel("fakeapp/panel.html", fake_context, order=5)]
