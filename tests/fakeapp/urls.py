from django.http import HttpResponse
from django.urls import path

app_name = "fakeapp"


def page(request):
    return HttpResponse("fake page")


urlpatterns = [path("fake/", page, name="page")]
api_urlpatterns = [path("fake/", page, name="fake")]
