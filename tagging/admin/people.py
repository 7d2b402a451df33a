"""People: rename, hide, merge, delete, and the faces grid of a change page."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from tagging.admin.base import FACES_SHOWN, ServiceLoggedAdmin, crop_img, face_crop_url, faces_counted
from tagging.errors import ActionRefused
from tagging.models import Face, Person
from tagging.services import faces as face_actions
from tagging.services import people as people_actions
from tagging.services import privacy
from tagging.services.merge import person_merge


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
            existing = face_actions.name_holder(
                actor=self.actor, name=name, person=self.instance if self.instance.pk else None
            )
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

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The name check asks whom this member of staff may know of: the form needs them.
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

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
        except ActionRefused as error:
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
        except ActionRefused as error:
            self.message_user(request, f"Not linked: {error}", messages.ERROR)
        obj.user = Person.objects.get(pk=obj.pk).user

    def delete_model(self, request, obj):
        people_actions.person_delete(person=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for person in queryset:
            try:
                people_actions.person_delete(person=person, actor=request.user)
            except ActionRefused as error:
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
            kept = person_merge(keep=keep, merge=merge, actor=request.user)
        except ActionRefused as error:
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
        except ActionRefused as error:
            self.message_user(request, f"Nothing changed: {error}", messages.ERROR)
        return HttpResponseRedirect(change_url)
