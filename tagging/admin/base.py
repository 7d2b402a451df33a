"""What every admin page of photosite shares: the access rule, crops, service-logged changes."""

from django.contrib import admin
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from tagging.models import Face

# The change page shows this many faces; more would make one page of crops
# too heavy to load, and the review pages handle the long tail.
FACES_SHOWN = 200


def faces_counted(user, **filters) -> Coalesce:
    """The number of faces ``user`` may see matching ``filters`` for each row, as a
    correlated subquery.

    A join with ``Count`` would aggregate every face of every row before the
    page's LIMIT, and the changelist's two COUNT queries would keep the join;
    a subquery runs only for the rows shown, from the (person, status) index.
    """
    counted = (
        Face.objects.visible_to(user)
        .filter(**filters)
        .order_by()
        .values(*filters.keys())
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def face_crop_url(face_id: int | None) -> str | None:
    if face_id is None:
        return None
    try:
        return reverse("face_crop", args=[face_id])
    except NoReverseMatch:
        # The crop view belongs to the site's URLs; the admin works without it.
        return None


def crop_img(face_id: int | None, size: int = 48):
    url = face_crop_url(face_id)
    if url is None:
        return "–" if face_id is None else f"face {face_id}"
    return format_html(
        '<img src="{}" alt="face {}" width="{}" height="{}" loading="lazy" style="object-fit:cover">',
        url,
        face_id,
        size,
        size,
    )


def view_on_site(request, content_type_id: int, object_id: str):
    """The admin's "view on site" redirect, for objects the member of staff may see only:
    Django's own answers a redirect for any object that exists, telling which ids do."""
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        raise Http404("not found") from None
    visible_to = getattr(model._default_manager, "visible_to", None) if model else None
    if visible_to is not None:
        try:
            if not visible_to(request.user).filter(pk=object_id).exists():
                raise Http404("not found")
        except (ValueError, ValidationError):
            raise Http404("not found") from None
    return contenttype_views.shortcut(request, content_type_id, object_id)


class VisibleAdmin(admin.ModelAdmin):
    """Shows staff only what the site's access rule lets them see (``visible_to``)."""

    def visible(self, request):
        return self.model.objects.visible_to(request.user)

    def get_queryset(self, request):
        # Every list, change page, search, autocomplete and action starts here.
        return super().get_queryset(request).filter(pk__in=self.visible(request).values("pk"))

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with "... doesn't exist"; a 404 is what
        # every other page answers for a forbidden or missing object.
        raise Http404("not found")


class ServiceLoggedAdmin(VisibleAdmin):
    """Leaves out of the admin's change message the fields whose change a service logged."""

    service_logged_fields: tuple[str, ...] = ()

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        labels = {str(form.fields[name].label) for name in self.service_logged_fields if name in form.fields}
        kept = []
        for entry in message:
            changed = entry.get("changed")
            if changed and "fields" in changed:
                fields = [field for field in changed["fields"] if field not in labels]
                if not fields:
                    continue
                entry = {"changed": {**changed, "fields": fields}}
            kept.append(entry)
        return kept

    def log_change(self, request, obj, message):
        if not message:
            return None
        return super().log_change(request, obj, message)
