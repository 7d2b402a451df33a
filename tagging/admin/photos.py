"""Photos and albums: what members uploaded, and processing it again."""

from django.contrib import admin, messages
from django.db.models import OuterRef

from tagging.admin.base import VisibleAdmin, faces_counted
from tagging.models import Album, Photo
from tagging.services.albums import photos_reprocess


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
