"""Opting out sticks: no path brings an opted-out face's embedding or crop back."""

import time

import pytest
from django.urls import reverse

from tagging import selectors
from tagging.models import Face, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, privacy, recognition
from tagging.services.albums import photos_reprocess
from tests.access import (
    _album,
    _client,
)
from tests.library import processed_photo

pytestmark = pytest.mark.django_db


# --- Opt-out sticks ----------------------------------------------------------------


@pytest.fixture
def opted_out(member, faces_dir, django_capture_on_commit_callbacks):
    """Alice tagged as herself on a processed photo, then opted out."""
    album = _album(member, "Me", shared=True)
    photo = processed_photo(album, faces_dir, "people/rose_leslie/rose_leslie_1.jpg")
    me = face_actions.face_tag_new_person(face=photo.faces.get(), name="Rose Leslie").person
    Person.objects.filter(pk=me.pk).update(user=member)
    with django_capture_on_commit_callbacks(execute=True):
        privacy.person_opt_out(user=member)
    return photo, me


def _face_data(photo: Photo) -> list[tuple]:
    return [(f.embedding is None, f.crop.name) for f in photo.faces.order_by("pk")]


def test_processing_again_gives_an_opted_out_face_no_embedding_or_crop(
    opted_out, media_root, django_capture_on_commit_callbacks
):
    photo, me = opted_out
    face = photo.faces.get()
    assert face.person == me and face.embedding is None and not face.crop

    with django_capture_on_commit_callbacks(execute=True):
        photos_reprocess(photos=Photo.objects.filter(pk=photo.pk))
        pipeline.photo_process(photo_id=photo.pk)

    face.refresh_from_db()
    assert (face.person, face.status) == (me, Face.Status.CONFIRMED)
    assert face.embedding is None and not face.crop
    assert not list((media_root / "crops").rglob("*.jpg"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_reprocessing_an_opted_out_photo_leaves_no_embedding_or_crop_on_disk(
    celery_worker, member, staff, faces_dir, media_root
):
    album = _album(member, "Me", shared=True)
    photo = processed_photo(album, faces_dir, "people/rose_leslie/rose_leslie_1.jpg")
    me = face_actions.face_tag_new_person(face=photo.faces.get(), name="Rose Leslie").person
    Person.objects.filter(pk=me.pk).update(user=member)
    privacy.person_opt_out(user=member)
    assert not list((media_root / "crops").rglob("*.jpg"))

    # Staff's admin action, through the real broker and worker.
    changelist = reverse("admin:tagging_photo_changelist")
    _client(staff).post(changelist, {"action": "reprocess", "_selected_action": [photo.pk]})
    deadline = time.monotonic() + 120
    photo.refresh_from_db()
    while photo.status != Photo.Status.DONE or photo.attempts == 0:
        assert time.monotonic() < deadline, "the worker did not process the photo"
        time.sleep(0.2)
        photo.refresh_from_db()

    face = photo.faces.get()
    assert face.person == me and face.embedding is None and not face.crop
    assert not list((media_root / "crops").rglob("*.jpg"))


def test_tagging_an_opted_out_persons_name_attaches_to_them_without_embedding(opted_out, bob, faces_dir):
    _, me = opted_out
    other = processed_photo(_album(bob, "Bob's"), faces_dir, "people/rose_leslie/rose_leslie_2.jpg")
    face = other.faces.get()
    crop = face.crop.name
    assert face.embedding is not None and crop

    _client(bob).post(reverse("face_tag", args=[face.pk]), {"name": "Rose Leslie"})

    face.refresh_from_db()
    assert face.person == me  # no namesake who is recognised
    assert face.embedding is None and not face.crop
    assert Person.objects.filter(name__iexact="Rose Leslie").count() == 1


def test_regrouping_and_suggesting_never_use_an_opted_out_face(opted_out, member, faces_dir):
    _, me = opted_out
    later = processed_photo(_album(member, "Later"), faces_dir, "people/rose_leslie/rose_leslie_2.jpg")

    recognition.recluster()

    assert later.faces.get().person_id != me.pk
    assert not Face.objects.filter(person=me, embedding__isnull=False).exists()
    assert not selectors.faces_confirmed_near(
        embedding=later.faces.get().embedding, model_name="Dlib", limit=10, seen_by=member
    )
