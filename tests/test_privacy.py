"""Faces are biometric data: switching recognition off, opting out, forgetting."""

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, privacy, recognition
from tests.library import processed_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Mine", visibility=Album.Visibility.MEMBERS)


def test_recognition_switched_off_processes_no_faces(album, faces_dir, settings):
    settings.FACE_RECOGNITION_ENABLED = False

    photo = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg")

    assert photo.status == Photo.Status.DONE
    assert photo.thumbnail and photo.faces.count() == 0


def test_delete_embeddings_command_forgets_every_embedding(album, faces_dir):
    processed_photo(album, faces_dir, "groups/barack_obama_and_joe_biden_2.jpg")
    assert Face.objects.filter(embedding__isnull=False).count() == 2

    call_command("delete_embeddings", "--yes", stdout=io.StringIO())

    assert Face.objects.filter(embedding__isnull=False).count() == 0
    assert Face.objects.count() == 2


def test_a_member_who_opts_out_is_never_suggested_and_their_face_data_is_deleted(
    album, faces_dir, member, django_capture_on_commit_callbacks
):
    first = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    me = Person.objects.create(name="Barack Obama")
    face_actions.face_tag(face=first, person=me)
    second = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_2.jpg").faces.get()
    assert second.person == me and second.status == Face.Status.SUGGESTED
    crop = Face.objects.get(pk=first.pk).crop.name
    assert default_storage.exists(crop)

    privacy.person_link(person=me, user=member, actor=member)
    with django_capture_on_commit_callbacks(execute=True):
        privacy.person_opt_out(user=member)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.embedding is None and not first.crop and not default_storage.exists(crop)
    assert (first.person, first.status) == (me, Face.Status.CONFIRMED)  # the member's tag stays
    assert second.person is None and second.embedding is None
    third = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_3.jpg").faces.get()
    assert third.person_id != me.pk


def test_opting_back_in_brings_recognition_back(album, faces_dir, member, django_capture_on_commit_callbacks):
    face = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    me = Person.objects.create(name="Barack Obama", user=member)
    face_actions.face_tag(face=face, person=me)
    privacy.person_opt_out(user=member)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert privacy.person_opt_in(user=member) == 1
    assert len(callbacks) == 1  # the photo is sent to the workers after commit
    pipeline.photo_process(photo_id=face.photo_id)
    recognition.photo_recognize(photo_id=face.photo_id)

    face.refresh_from_db()
    assert face.embedding is not None and face.crop
    assert (face.person, face.status) == (me, Face.Status.CONFIRMED)
    other = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_2.jpg").faces.get()
    assert other.person == me


def test_deleting_an_account_deletes_its_photos_faces_and_files(
    album, faces_dir, member, django_capture_on_commit_callbacks
):
    photo = processed_photo(album, faces_dir, "groups/kit_harington_and_rose_leslie.jpg")
    files = [photo.original.name, photo.thumbnail.name, photo.preview.name]
    files += [face.crop.name for face in photo.faces.all()]
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        privacy.account_delete(user=member)

    assert not Photo.objects.exists() and not Face.objects.exists() and not Album.objects.exists()
    assert not any(default_storage.exists(name) for name in files)


def test_unconfirmed_embeddings_expire_after_the_retention_period(album, faces_dir, settings):
    settings.FACE_UNCONFIRMED_RETENTION_DAYS = 30
    photo = processed_photo(album, faces_dir, "groups/barack_obama_and_joe_biden_2.jpg")
    confirmed, unconfirmed = photo.faces.all()[:2]
    face_actions.face_tag(face=confirmed, person=Person.objects.create(name="Someone"))

    assert privacy.embeddings_expire(now=timezone.now() + timedelta(days=29)) == 0
    assert privacy.embeddings_expire(now=timezone.now() + timedelta(days=31)) == 1

    confirmed.refresh_from_db()
    unconfirmed.refresh_from_db()
    assert confirmed.embedding is not None
    assert unconfirmed.embedding is None


def test_faces_on_photos_a_member_cannot_see_are_never_shown_to_them(
    faces_dir, member, django_user_model, client
):
    """A name given on a private album stays there: it is not suggested on anyone else's
    photos, and neither the person nor the photo is shown to anyone else."""
    from tagging import selectors, similar

    other = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    private = Album.objects.create(owner=other, title="Bob's", visibility=Album.Visibility.PRIVATE)
    hidden_face = processed_photo(private, faces_dir, "people/joe_biden/joe_biden_1.jpg").faces.get()
    joe = Person.objects.create(name="Joe Biden")
    face_actions.face_tag(face=hidden_face, person=joe)
    mine = Album.objects.create(owner=member, title="Mine")
    my_face = processed_photo(mine, faces_dir, "people/joe_biden/joe_biden_2.jpg").faces.get()
    assert my_face.person != joe  # Bob's private tag is no evidence for Alice's photo

    assert list(selectors.people_named(user=member)) == []
    assert list(selectors.person_photos(user=member, person=joe)) == []
    assert list(selectors.person_review_faces(user=member, person=joe)) == []
    assert list(selectors.photos_with_people(user=member, people=[joe])) == []
    found = similar.photos_similar(user=member, embedding=my_face.embedding, model_name="Dlib")
    assert hidden_face.photo_id not in [s.photo.pk for s in found]
    client.force_login(member)
    assert client.get(f"/people/{joe.pk}/").status_code == 404
    assert "Joe Biden" not in client.get("/people/").content.decode()
    assert client.get(f"/faces/{hidden_face.pk}/crop/").status_code == 404


def test_merging_with_someone_who_opted_out_forgets_the_merged_faces(album, faces_dir, member):
    from tagging.services import merge

    me = Person.objects.create(name="Barack Obama", user=member)
    privacy.person_opt_out(user=member)
    face = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    alias = face_actions.face_tag_new_person(face=face, name="B. Obama").person

    merge.person_merge(keep=alias, merge=[me], actor=member)

    face.refresh_from_db()
    assert face.person == alias and face.status == Face.Status.CONFIRMED
    assert face.embedding is None and not face.crop
    assert Person.objects.get(pk=alias.pk).recognition_opt_out
