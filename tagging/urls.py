from django.urls import path

from tagging.views import accounts, albums, media, people, photos, search

urlpatterns = [
    path("", albums.home, name="home"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("albums/new/", albums.album_create, name="album_create"),
    path("albums/<int:album_id>/", albums.album_detail, name="album"),
    path("albums/<int:album_id>/edit/", albums.album_edit, name="album_edit"),
    path("albums/<int:album_id>/delete/", albums.album_delete, name="album_delete"),
    path("albums/<int:album_id>/upload/", albums.album_upload, name="album_upload"),
    path("albums/<int:album_id>/status/", albums.album_status, name="album_status"),
    path("photos/<int:photo_id>/", photos.photo_detail, name="photo"),
    path("photos/<int:photo_id>/retry/", albums.photo_retry, name="photo_retry"),
    path("photos/<int:photo_id>/original/", media.photo_original, name="photo_original"),
    path("photos/<int:photo_id>/thumbnail/", media.photo_thumbnail, name="photo_thumbnail"),
    path("photos/<int:photo_id>/preview/", media.photo_preview, name="photo_preview"),
    path("faces/<int:face_id>/crop/", media.face_crop, name="face_crop"),
    path("faces/<int:face_id>/confirm/", photos.face_confirm, name="face_confirm"),
    path("faces/<int:face_id>/reject/", photos.face_reject, name="face_reject"),
    path("faces/<int:face_id>/tag/", photos.face_tag, name="face_tag"),
    path("faces/<int:face_id>/untag/", photos.face_untag, name="face_untag"),
    path("people/", people.people_list, name="people"),
    path("people/merge/", people.people_merge, name="people_merge"),
    path("people/names/", people.people_autocomplete, name="people_autocomplete"),
    path("people/<int:person_id>/", people.person_detail, name="person"),
    path("people/<int:person_id>/review/", people.person_review, name="person_review"),
    path("people/<int:person_id>/name/", people.person_name, name="person_name"),
    path("search/", search.search, name="search"),
    path("search/face/", search.find_by_face, name="find_by_face"),
]
