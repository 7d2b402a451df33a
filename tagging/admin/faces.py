"""Faces: staff see them and say who they are."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from tagging.admin.base import ServiceLoggedAdmin, crop_img
from tagging.errors import ActionRefused
from tagging.models import Face, Person
from tagging.services import people as people_actions


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
        except ActionRefused as error:
            self.message_user(request, f"Not changed: {error}", messages.ERROR)
        obj.refresh_from_db()
        return None
