"""The album and people pages answer in a fixed number of queries, whatever their size."""

import pytest
from django.db import connection
from django.urls import reverse

from tagging.models import Album, Face, Person, Photo

pytestmark = pytest.mark.django_db


# --- Query counts ------------------------------------------------------------------


MANY = 1000


def _analyze() -> None:
    """Statistics for what a test just bulk-inserted, as autovacuum gives a live site soon
    after an import. Without them the planner takes a thousand rows for none, and a
    nested loop it judges cheap scans faces x photos for every person (the people page
    once ran past the 60 s statement timeout that way, in a full run only)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tagging_album, tagging_photo, tagging_person, tagging_face")


def _many_photos(album: Album) -> list[Photo]:
    photos = Photo.objects.bulk_create(
        Photo(
            album=album,
            uploaded_by=album.owner,
            display_name=f"photo-{i}.jpg",
            content_hash=f"{i:064x}",
            status=Photo.Status.DONE,
            original=f"originals/fake/{i}",
            thumbnail=f"thumbnails/fake/{i}.jpg",
            preview=f"previews/fake/{i}.jpg",
        )
        for i in range(MANY)
    )
    _analyze()
    return photos


class TestQueryCounts:
    def test_the_album_page_does_not_query_per_photo(self, album, alice, django_assert_max_num_queries):
        _many_photos(album)

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("album", args=[album.pk]))

        assert response.content.count(b'class="tile photo-tile') == MANY

    def test_the_album_status_does_not_query_per_photo(self, album, alice, django_assert_max_num_queries):
        _many_photos(album)

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("album_status", args=[album.pk]))

        assert len(response.json()["photos"]) == MANY

    def test_the_people_page_does_not_query_per_person(self, album, alice, django_assert_max_num_queries):
        photos = _many_photos(album)
        people = Person.objects.bulk_create(Person(name=f"Person {i:04}") for i in range(MANY))
        Face.objects.bulk_create(
            Face(
                photo=photo,
                person=person,
                status=Face.Status.CONFIRMED,
                x=0.1,
                y=0.1,
                w=0.2,
                h=0.2,
                model_name="Dlib",
                crop=f"crops/fake/{photo.pk}.jpg",
            )
            for photo, person in zip(photos, people, strict=True)
        )
        _analyze()

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("people"))

        assert len(response.context["people"]) == MANY
        assert response.content.count(b'class="tile person-tile"') == MANY
