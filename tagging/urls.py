from django.urls import path

from tagging.views import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("albums/<int:album_id>/", pages.album, name="album"),
    path("photos/<int:photo_id>/", pages.photo, name="photo"),
    path("people/<int:person_id>/", pages.person, name="person"),
]
