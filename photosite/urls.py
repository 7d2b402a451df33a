from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("tagging.urls")),
]

handler400 = "photosite.views.bad_request"
