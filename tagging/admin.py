"""The admin, made for curating the people directory.

Every change to people and faces goes through ``tagging.services.people``:
the services keep the face constraints (a person exactly when suggested or
confirmed), refresh the suggestions a change makes stale, and write one
LogEntry per change. So the admin's own logging is switched off wherever a
service has already logged.

Staff follow the site's access rule here too (``visible_to``): no title, name,
photo, count or crop of another member's private album appears in a list, a
change page, a search, an autocomplete or an action, and such an object's
pages answer 404, as a missing one does.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from tagging.models import Album, Face, FaceRejection, Person, PersonClaim, Photo
from tagging.services import people as people_actions
from tagging.services import privacy
from tagging.services.albums import photos_reprocess

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


class NamedFilter(admin.SimpleListFilter):
    title = "name"
    parameter_name = "named"

    def lookups(self, request, model_admin):
        return [("yes", "Named"), ("no", "Unnamed groups")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(name="")
        if self.value() == "no":
            return queryset.filter(name="")
        return queryset


class PersonAdminForm(forms.ModelForm):
    allow_duplicate_name = forms.BooleanField(
        required=False, label="Allow a name someone else has", help_text="Two different people of one name"
    )

    class Meta:
        model = Person
        fields = ["name", "hidden", "user"]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if self.instance.pk and self.instance.name and not name:
            raise forms.ValidationError("A named person keeps a name; delete or merge them instead.")
        return name

    def clean(self):
        cleaned = super().clean()
        name = cleaned.get("name")
        if name and "name" in self.changed_data and not cleaned.get("allow_duplicate_name"):
            existing = Person.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).first()
            if existing is not None:
                self.add_error(
                    "name",
                    f"{existing} (#{existing.pk}) already has this name: merge them, or allow it below.",
                )
        return cleaned


class PersonFacesForm(forms.Form):
    """The buttons under the face grid of a person's change page."""

    OPERATIONS = [
        ("cover", "Set as cover"),
        ("detach", "Detach: back to untagged"),
        ("detach_new", "Detach into a new person"),
    ]
    faces = forms.ModelMultipleChoiceField(queryset=Face.objects.none())
    op = forms.ChoiceField(choices=OPERATIONS)
    name = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, person: Person, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["faces"].queryset = Face.objects.visible_to(user).filter(person=person)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("op") == "cover" and len(cleaned.get("faces") or []) != 1:
            raise forms.ValidationError("Choose exactly one face as the cover.")
        return cleaned


@admin.register(Person)
class PersonAdmin(ServiceLoggedAdmin):
    form = PersonAdminForm
    list_display = ["cover", "display_name", "confirmed_count", "suggested_count", "hidden"]
    list_display_links = ["cover", "display_name"]
    list_filter = [NamedFilter, "hidden", "recognition_opt_out"]
    search_fields = ["name"]
    raw_id_fields = ["user"]
    fields = ["name", "allow_duplicate_name", "hidden", "user", "recognition_opt_out", "cover"]
    # Opting out is the member's own choice, and it deletes their embeddings.
    readonly_fields = ["recognition_opt_out", "cover"]
    actions = ["merge_people", "hide_people", "unhide_people", "delete_selected"]
    service_logged_fields = ("name", "allow_duplicate_name")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                confirmed_count=faces_counted(
                    request.user, person=OuterRef("pk"), status=Face.Status.CONFIRMED
                ),
                suggested_count=faces_counted(
                    request.user, person=OuterRef("pk"), status=Face.Status.SUGGESTED
                ),
            )
        )

    @admin.display(description="Cover")
    def cover(self, person):
        return crop_img(person.cover_face_id)

    @admin.display(description="Name", ordering="name")
    def display_name(self, person):
        return str(person)

    @admin.display(description="Confirmed", ordering="confirmed_count")
    def confirmed_count(self, person):
        return person.confirmed_count

    @admin.display(description="Suggested", ordering="suggested_count")
    def suggested_count(self, person):
        return person.suggested_count

    # --- saving and deleting through the services ---------------------------

    def save_model(self, request, obj, form, change):
        if change and "user" in form.changed_data:
            self._link(request, obj, form)
        if not (change and "name" in form.changed_data):
            return super().save_model(request, obj, form, change)
        new_name = obj.name
        obj.name = form.initial.get("name", "")
        super().save_model(request, obj, form, change)
        try:
            renamed = people_actions.person_rename(
                person=obj,
                name=new_name,
                actor=request.user,
                allow_duplicate=form.cleaned_data.get("allow_duplicate_name", False),
            )
        except people_actions.PeopleError as error:
            # Lost a race with another admin since the form was validated.
            self.message_user(request, f"Not renamed: {error}", messages.ERROR)
            return None
        obj.name = renamed.name
        return None

    def _link(self, request, obj, form):
        """Staff link a member directly, as approving their claim would."""
        new_user, obj.user = obj.user, Person.objects.get(pk=obj.pk).user
        try:
            if new_user is not None:
                privacy.person_link(person=obj, user=new_user, actor=request.user)
            else:
                Person.objects.filter(pk=obj.pk).update(user=None)
        except privacy.PrivacyError as error:
            self.message_user(request, f"Not linked: {error}", messages.ERROR)
        obj.user = Person.objects.get(pk=obj.pk).user

    def delete_model(self, request, obj):
        people_actions.person_delete(person=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for person in queryset:
            try:
                people_actions.person_delete(person=person, actor=request.user)
            except people_actions.PeopleError as error:
                self.message_user(request, str(error), messages.WARNING)

    def log_deletions(self, request, queryset):
        """``person_delete`` logs each deletion with what happened to the faces."""

    # --- actions --------------------------------------------------------------

    @admin.action(permissions=["delete"], description="Delete selected people (their faces stay, untagged)")
    def delete_selected(self, request, queryset):
        # Django's own confirmation page, deleting through delete_queryset above.
        return django_delete_selected(self, request, queryset)

    @admin.action(permissions=["change"], description="Hide selected people")
    def hide_people(self, request, queryset):
        count = people_actions.people_hide(people=queryset, hidden=True, actor=request.user)
        self.message_user(request, f"{count} hidden.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Show selected people again")
    def unhide_people(self, request, queryset):
        count = people_actions.people_hide(people=queryset, hidden=False, actor=request.user)
        self.message_user(request, f"{count} shown again.", messages.SUCCESS)

    @admin.action(permissions=["change", "delete"], description="Merge selected people into one")
    def merge_people(self, request, queryset):
        people = list(queryset.order_by("pk"))
        if request.POST.get("post") == "yes":
            found = {str(person.pk) for person in people}
            if any(pk not in found for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
                # The changelist drops ids that no longer exist; merging the rest
                # would not be what the confirmation page showed.
                self.message_user(
                    request,
                    "Not merged: some of these people were already merged or deleted meanwhile; "
                    "select them again.",
                    messages.ERROR,
                )
                return None
        if len(people) < 2:
            self.message_user(request, "Select two or more people to merge.", messages.WARNING)
            return None
        if request.POST.get("post") == "yes":
            return self._merge(request, people)
        # Most likely to be kept: a named person with the most confirmed faces.
        proposed = max(people, key=lambda p: (bool(p.name), p.confirmed_count, -p.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge people",
            "subtitle": None,
            "opts": self.model._meta,
            "people": [(person, crop_img(person.cover_face_id, size=64)) for person in people],
            "proposed": proposed,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/tagging/person/merge_confirmation.html", context)

    def _merge(self, request, people):
        by_id = {str(person.pk): person for person in people}
        keep = by_id.get(request.POST.get("keep", ""))
        if keep is None:
            self.message_user(request, "Choose the person to keep.", messages.ERROR)
            return None
        merge = [person for person in people if person.pk != keep.pk]
        try:
            kept = people_actions.person_merge(keep=keep, merge=merge, actor=request.user)
        except people_actions.MergeError as error:
            self.message_user(request, f"Not merged: {error}", messages.ERROR)
            return None
        names = ", ".join(str(person) for person in merge)
        self.message_user(request, f"Merged {names} into {kept}.", messages.SUCCESS)
        return None

    # --- the faces grid on the change page ---------------------------------

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/faces/",
                self.admin_site.admin_view(self.faces_view),
                name="tagging_person_faces",
            ),
        ]
        # Before the defaults: "<path:object_id>/" would take this URL too.
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        person_id = unquote(object_id)
        if str(person_id).isdigit():
            faces = (
                Face.objects.visible_to(request.user).filter(person_id=person_id).order_by("status", "-pk")
            )
            extra_context["person_faces"] = [
                (face, face_crop_url(face.pk)) for face in faces.only("pk", "status")[:FACES_SHOWN]
            ]
            extra_context["person_face_total"] = faces.count()
            extra_context["faces_form_ops"] = PersonFacesForm.OPERATIONS
        return super().change_view(request, object_id, form_url, extra_context)

    def faces_view(self, request, object_id):
        return require_POST(self._faces_post)(request, object_id)

    def _faces_post(self, request, object_id):
        person = self.get_object(request, unquote(object_id))
        if person is None:
            raise Http404("not found")
        if not self.has_change_permission(request, person):
            raise PermissionDenied
        change_url = reverse("admin:tagging_person_change", args=[person.pk])
        form = PersonFacesForm(request.POST, person=person, user=request.user)
        if not form.is_valid():
            errors = "; ".join(error for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Nothing changed: {errors}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        faces, op = list(form.cleaned_data["faces"]), form.cleaned_data["op"]
        try:
            if op == "cover":
                people_actions.person_set_cover(person=person, face=faces[0], actor=request.user)
                self.message_user(request, "Cover set.", messages.SUCCESS)
            else:
                created = people_actions.faces_detach(
                    person=person,
                    faces=faces,
                    into_new_person=op == "detach_new",
                    actor=request.user,
                    name=form.cleaned_data["name"],
                )
                where = f"into {created}" if created else "back to untagged"
                self.message_user(request, f"{len(faces)} detached {where}.", messages.SUCCESS)
        except people_actions.PeopleError as error:
            self.message_user(request, f"Nothing changed: {error}", messages.ERROR)
        return HttpResponseRedirect(change_url)


class FaceAdminForm(forms.ModelForm):
    class Meta:
        model = Face
        fields = ["person"]

    def clean_person(self):
        person = self.cleaned_data["person"]
        if person is not None and person.recognition_opt_out and "person" in self.changed_data:
            raise forms.ValidationError(f"{person} has opted out of face recognition.")
        return person


@admin.register(Face)
class FaceAdmin(ServiceLoggedAdmin):
    """Faces come from the pipeline; here staff see them and say who they are."""

    form = FaceAdminForm
    list_display = ["crop_thumbnail", "id", "photo_link", "status", "person", "distance", "model_name"]
    list_display_links = ["crop_thumbnail", "id"]
    list_filter = ["status", "model_name"]
    list_select_related = ["photo", "person"]
    search_fields = ["person__name", "photo__display_name"]
    autocomplete_fields = ["person"]
    fields = ["crop_large", "photo_link", "person", "status", "distance", "confidence", "model_name", "box"]
    readonly_fields = ["crop_large", "photo_link", "status", "distance", "confidence", "model_name", "box"]
    service_logged_fields = ("person",)

    def has_add_permission(self, request):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "person":
            kwargs["queryset"] = Person.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Face")
    def crop_thumbnail(self, face):
        return crop_img(face.pk)

    @admin.display(description="Face")
    def crop_large(self, face):
        return crop_img(face.pk, size=160)

    @admin.display(description="Photo", ordering="photo__display_name")
    def photo_link(self, face):
        url = reverse("admin:tagging_photo_change", args=[face.photo_id])
        return format_html('<a href="{}">{}</a>', url, face.photo)

    @admin.display(description="Box (relative x, y, w, h)")
    def box(self, face):
        return f"{face.x:.3f}, {face.y:.3f}, {face.w:.3f}, {face.h:.3f}"

    def save_model(self, request, obj, form, change):
        """A new person is a confirmed tag through ``face_reassign``; no person, a detach."""
        if not (change and "person" in form.changed_data):
            return None
        old_id = form.initial.get("person")
        try:
            if obj.person is not None:
                people_actions.face_reassign(face=obj, person=obj.person, actor=request.user)
            elif old_id is not None:
                old = Person.objects.filter(pk=old_id).first()
                if old is None:
                    raise people_actions.PeopleError("its person no longer exists; reload and try again")
                people_actions.faces_detach(
                    person=old, faces=[obj], into_new_person=False, actor=request.user
                )
        except people_actions.PeopleError as error:
            self.message_user(request, f"Not changed: {error}", messages.ERROR)
        obj.refresh_from_db()
        return None


@admin.register(Photo)
class PhotoAdmin(VisibleAdmin):
    list_display = ["display_name", "album", "status", "face_count", "short_error", "attempts", "created_at"]
    list_filter = ["status", "face_model"]
    list_select_related = ["album"]
    search_fields = ["display_name", "album__title"]
    raw_id_fields = ["album", "uploaded_by"]
    readonly_fields = [
        "original",
        "content_hash",
        "width",
        "height",
        "status",
        "error",
        "attempts",
        "claimed_by",
        "face_model",
        "status_changed_at",
        "created_at",
    ]
    exclude = ["thumbnail", "preview"]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        # Photos come in through the upload checks, never around them.
        return False

    def get_queryset(self, request):
        face_count = faces_counted(request.user, photo=OuterRef("pk"))
        return super().get_queryset(request).annotate(face_count=face_count)

    @admin.display(description="Faces", ordering="face_count")
    def face_count(self, photo):
        return photo.face_count  # annotated in get_queryset

    @admin.display(description="Error")
    def short_error(self, photo):
        return photo.error if len(photo.error) <= 80 else f"{photo.error[:79]}…"

    @admin.action(permissions=["change"], description="Process selected photos again")
    def reprocess(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        sent, skipped = photos_reprocess(photos=Photo.objects.filter(pk__in=ids))
        message = f"{sent} photos sent for processing."
        if skipped:
            message += f" {skipped} are being processed now and were left alone."
        self.message_user(request, message, messages.SUCCESS)


@admin.register(Album)
class AlbumAdmin(VisibleAdmin):
    list_display = ["title", "owner", "visibility", "share_location", "created_at"]
    list_filter = ["visibility"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(FaceRejection)
class FaceRejectionAdmin(VisibleAdmin):
    list_display = ["face", "person", "rejected_by", "created_at"]
    raw_id_fields = ["face", "person", "rejected_by"]

    def visible(self, request):
        return FaceRejection.objects.filter(
            face__in=Face.objects.visible_to(request.user),
            person__in=Person.objects.visible_to(request.user),
        )


@admin.register(PersonClaim)
class PersonClaimAdmin(admin.ModelAdmin):
    """ "This is me" requests. Decided through the service (which links and logs), not edited."""

    list_display = ["user", "person", "status", "created_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["user", "person", "decided_by"]
    actions = ["approve", "refuse"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # A claim on a person seen only in albums this member of staff cannot see is not theirs to judge.
        return super().get_queryset(request).filter(person__in=Person.objects.visible_to(request.user))

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404("not found")

    def _decide(self, request, queryset, approve: bool):
        done = 0
        for claim in queryset.filter(status=PersonClaim.Status.PENDING):
            try:
                privacy.claim_decide(claim=claim, approve=approve, actor=request.user)
                done += 1
            except privacy.PrivacyError as error:
                self.message_user(request, f"{claim.user}: {error}", messages.WARNING)
        self.message_user(request, f"{done} {'approved' if approve else 'refused'}.", messages.SUCCESS)

    @admin.action(permissions=["view"], description="Approve: link each member to the person")
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(permissions=["view"], description="Refuse")
    def refuse(self, request, queryset):
        self._decide(request, queryset, approve=False)
