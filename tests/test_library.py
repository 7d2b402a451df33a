"""Owners delete one photo, or delete or move several of an album's photos."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tagging import selectors
from tagging.models import Album, Face, Person, Photo
from tagging.services import pipeline, undo
from tests.pages import _face, _logged_in, _messages, _photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(member):
    return _logged_in(member)


@pytest.fixture
def bob_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="another horse battery")


@pytest.fixture
def trip(member) -> Album:
    return Album.objects.create(owner=member, title="Trip", visibility=Album.Visibility.MEMBERS)


@pytest.fixture
def home_album(member) -> Album:
    return Album.objects.create(owner=member, title="Home")


class TestPhotoDelete:
    def test_it_asks_first(self, trip, alice):
        photo = _photo(trip, name="beach.jpg")
        _face(photo)

        response = alice.get(reverse("photo_delete", args=[photo.pk]))

        assert response.status_code == 200
        assert "Delete “beach.jpg”?" in response.content.decode()
        assert "the 1 face found on it" in response.content.decode()
        assert Photo.objects.filter(pk=photo.pk).exists()

    def test_it_deletes_the_photo_its_faces_and_files(
        self, trip, alice, settings, django_capture_on_commit_callbacks
    ):
        photo, kept = _photo(trip), _photo(trip)
        face = _face(photo)
        files = [photo.original.name, photo.thumbnail.name, photo.preview.name, face.crop.name]

        with django_capture_on_commit_callbacks(execute=True):
            response = alice.post(reverse("photo_delete", args=[photo.pk]))

        assert response.status_code == 302 and response.url == trip.get_absolute_url()
        assert list(Photo.objects.values_list("pk", flat=True)) == [kept.pk]
        # Rows and files stay while the deletion may be undone (tests/test_undo.py), then go.
        assert all(default_storage.exists(name) for name in files)
        past = timezone.now() - timedelta(seconds=settings.UNDO_SECONDS + 1)
        Photo.all_objects.filter(pk=photo.pk).update(deleted_at=past)
        with django_capture_on_commit_callbacks(execute=True):
            undo.expired_purge()
        assert list(Photo.all_objects.values_list("pk", flat=True)) == [kept.pk]
        assert not Face.objects.exists()
        assert not any(default_storage.exists(name) for name in files)
        assert default_storage.exists(kept.original.name)

    def test_a_member_who_sees_the_photo_may_not_delete_it(self, trip, bob_user):
        photo = _photo(trip)
        bob = _logged_in(bob_user)
        assert bob.get(reverse("photo", args=[photo.pk])).status_code == 200

        assert bob.get(reverse("photo_delete", args=[photo.pk])).status_code == 404
        assert bob.post(reverse("photo_delete", args=[photo.pk])).status_code == 404
        assert Photo.objects.filter(pk=photo.pk).exists()
        assert b"Delete this photo" not in bob.get(reverse("photo", args=[photo.pk])).content


class TestSeveralPhotos:
    def test_deleting_asks_first_naming_the_photos(self, trip, alice):
        first, second = _photo(trip, name="one.jpg"), _photo(trip, name="two.jpg")

        response = alice.post(
            reverse("album_photos", args=[trip.pk]), {"photos": [first.pk, second.pk], "action": "delete"}
        )

        page = response.content.decode()
        assert response.status_code == 200
        assert "Delete 2 photos?" in page and "one.jpg" in page and "two.jpg" in page
        assert Photo.objects.count() == 2

    def test_it_deletes_only_the_chosen_photos_of_this_album(self, trip, home_album, alice):
        chosen, left = _photo(trip), _photo(trip)
        elsewhere = _photo(home_album)

        response = alice.post(
            reverse("album_photos", args=[trip.pk]),
            {"photos": [chosen.pk, elsewhere.pk], "action": "delete", "confirmed": "yes"},
            follow=True,
        )

        assert sorted(Photo.objects.values_list("pk", flat=True)) == sorted([left.pk, elsewhere.pk])
        assert "Deleted 1 photo." in response.content.decode()

    def test_it_moves_photos_to_another_album_of_the_owner(self, trip, home_album, alice):
        first, second, stays = _photo(trip), _photo(trip), _photo(trip)
        ann = Person.objects.create(name="Ann")
        tagged = _face(first, person=ann, status=Face.Status.CONFIRMED)

        response = alice.post(
            reverse("album_photos", args=[trip.pk]),
            {"photos": [first.pk, second.pk], "action": "move", "target": home_album.pk},
            follow=True,
        )

        assert sorted(home_album.photos.values_list("pk", flat=True)) == sorted([first.pk, second.pk])
        assert list(trip.photos.values_list("pk", flat=True)) == [stays.pk]
        tagged.refresh_from_db()
        assert (tagged.person_id, tagged.status) == (ann.pk, Face.Status.CONFIRMED)
        assert "Moved 2 photos to “Home”." in response.content.decode()

    def test_a_file_already_in_the_target_stays(self, trip, home_album, alice):
        moving, twin = _photo(trip), _photo(trip)
        already = _photo(home_album)
        Photo.objects.filter(pk=twin.pk).update(content_hash=already.content_hash)

        response = alice.post(
            reverse("album_photos", args=[trip.pk]),
            {"photos": [moving.pk, twin.pk], "action": "move", "target": home_album.pk},
            follow=True,
        )

        page = response.content.decode()
        assert Photo.objects.get(pk=moving.pk).album_id == home_album.pk
        assert Photo.objects.get(pk=twin.pk).album_id == trip.pk
        assert "Moved 1 photo to “Home”. 1 photo stayed" in page

    def test_it_never_moves_to_an_album_of_someone_else(self, trip, alice, bob_user):
        photo = _photo(trip)
        bobs = Album.objects.create(owner=bob_user, title="Bob's", visibility=Album.Visibility.MEMBERS)

        response = alice.post(
            reverse("album_photos", args=[trip.pk]),
            {"photos": [photo.pk], "action": "move", "target": bobs.pk},
            follow=True,
        )

        assert Photo.objects.get(pk=photo.pk).album_id == trip.pk
        assert "Choose another of your albums" in response.content.decode()

    def test_a_member_who_sees_the_album_may_not_act_on_it(self, trip, bob_user):
        photo = _photo(trip)
        bobs = Album.objects.create(owner=bob_user, title="Bob's")
        bob = _logged_in(bob_user)

        for data in (
            {"photos": [photo.pk], "action": "delete", "confirmed": "yes"},
            {"photos": [photo.pk], "action": "move", "target": bobs.pk},
        ):
            assert bob.post(reverse("album_photos", args=[trip.pk]), data).status_code == 404
        assert Photo.objects.get(pk=photo.pk).album_id == trip.pk

    def test_an_empty_selection_changes_nothing(self, trip, alice):
        photo = _photo(trip)

        response = alice.post(
            reverse("album_photos", args=[trip.pk]), {"action": "delete", "confirmed": "yes"}
        )

        assert response.status_code == 302
        assert Photo.objects.filter(pk=photo.pk).exists()


class TestRetryWhereItCanHelp:
    def test_a_truncated_file_fails_as_a_file_and_is_not_offered_a_retry(self, trip, alice, faces_dir):
        whole = (faces_dir / "people/joe_biden/joe_biden_2.jpg").read_bytes()
        photo = _photo(trip, content=whole[: len(whole) // 3], status=Photo.Status.PENDING, name="cut.jpg")

        pipeline.photo_process(photo_id=photo.pk)

        photo.refresh_from_db()
        assert (photo.status, photo.error_kind) == (Photo.Status.FAILED, Photo.ErrorKind.FILE)
        page = alice.get(reverse("album", args=[trip.pk])).content.decode()
        assert reverse("photo_retry", args=[photo.pk]) not in page
        assert "Processing it again would not help" in page
        response = alice.post(reverse("photo_retry", args=[photo.pk]), follow=True)
        photo.refresh_from_db()
        assert photo.status == Photo.Status.FAILED
        assert "would fail again: the file is truncated" in response.content.decode()

    def test_a_processing_failure_is_offered_a_retry(self, trip, alice):
        photo = _photo(
            trip, status=Photo.Status.FAILED, error="processing took too long", error_kind="processing"
        )

        page = alice.get(reverse("album", args=[trip.pk])).content.decode()
        assert reverse("photo_retry", args=[photo.pk]) in page
        alice.post(reverse("photo_retry", args=[photo.pk]))
        photo.refresh_from_db()
        assert (photo.status, photo.error_kind) == (Photo.Status.PENDING, "")

    def test_the_status_answer_carries_the_tile_with_its_name(self, trip, alice):
        photo = _photo(trip, name="a-very-particular-name.jpg")
        _photo(trip, status=Photo.Status.PENDING)

        body = alice.get(reverse("album_status", args=[trip.pk])).json()

        tile = next(p for p in body["photos"] if p["id"] == photo.pk)["html"]
        assert "a-very-particular-name.jpg" in tile and 'name="photos"' in tile
        assert body["progress"] == {
            "total": 2,
            "processed": 1,
            "failed": 0,
            "left": 1,
            "seconds_left": None,
        }

    def test_the_time_left_follows_the_recent_pace(self, trip):
        now = timezone.now()
        for seconds_ago in (40, 20, 0):
            done = _photo(trip)
            Photo.objects.filter(pk=done.pk).update(status_changed_at=now - timedelta(seconds=seconds_ago))
        _photo(trip, status=Photo.Status.PENDING), _photo(trip, status=Photo.Status.PROCESSING)

        progress = selectors.album_progress(album=trip)

        # Three photos settled over 40 s: 20 s a photo, two left.
        assert (progress["processed"], progress["left"]) == (3, 2)
        assert 39 <= progress["seconds_left"] <= 41


class TestWording:
    def test_one_reviewed_face_is_one_face(self, trip, alice):
        ann = Person.objects.create(name="Ann")
        photo = _photo(trip)
        first, second = (_face(photo, person=ann, status=Face.Status.SUGGESTED, x=x) for x in (0.1, 0.5))

        confirmed = alice.post(
            reverse("person_review", args=[ann.pk]), {"faces": [first.pk], "action": "confirm"}, follow=True
        )
        rejected = alice.post(
            reverse("person_review", args=[ann.pk]), {"faces": [second.pk], "action": "reject"}, follow=True
        )

        assert "Confirmed 1 face as Ann." in confirmed.content.decode()
        assert "Rejected 1 suggestion." in rejected.content.decode()

    def test_not_an_unnamed_group_reads_as_words(self, trip, alice):
        group = Person.objects.create()
        face = _face(_photo(trip), person=group, status=Face.Status.SUGGESTED)

        response = alice.post(reverse("face_reject", args=[face.pk]), follow=True)

        assert _messages(response) == ["Noted: not that group."]
