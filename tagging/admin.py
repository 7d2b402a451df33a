from django.contrib import admin

from tagging.models import Album, Face, FaceRejection, Person, Photo


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "visibility", "created_at"]
    list_filter = ["visibility"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ["display_name", "album", "status", "attempts", "face_model", "created_at"]
    list_filter = ["status"]
    search_fields = ["display_name", "album__title"]
    raw_id_fields = ["album", "uploaded_by"]
    readonly_fields = ["content_hash", "width", "height", "status_changed_at", "created_at"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["__str__", "hidden", "recognition_opt_out", "created_at"]
    list_filter = ["hidden", "recognition_opt_out"]
    search_fields = ["name"]
    raw_id_fields = ["cover_face", "user"]


@admin.register(Face)
class FaceAdmin(admin.ModelAdmin):
    list_display = ["id", "photo", "person", "status", "distance", "model_name"]
    list_filter = ["status", "model_name"]
    raw_id_fields = ["photo", "person"]
    exclude = ["embedding"]


@admin.register(FaceRejection)
class FaceRejectionAdmin(admin.ModelAdmin):
    list_display = ["face", "person", "rejected_by", "created_at"]
    raw_id_fields = ["face", "person", "rejected_by"]
