from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from tagging.admin import view_on_site

urlpatterns = [
    # Before the admin's own, which answers for objects the viewer may not see.
    path(
        f"{settings.ADMIN_URL}r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
        name="admin_view_on_site",
    ),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("tagging.urls")),
]

handler400 = "photosite.views.bad_request"
