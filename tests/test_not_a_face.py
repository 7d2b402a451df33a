"""'Not a face': the box leaves every page and search, forgets its embedding and crop,
and reprocessing the photo does not bring it back."""

import pytest
from django.core.files.storage import default_storage

from tagging import selectors, similar
from tagging.models import Album, Face, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, recognition
from tests.library import processed_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Mine")


def test_it_removes_the_box_and_forgets_its_embedding_and_crop(
    client, member, album, faces_dir, django_capture_on_commit_callbacks
):
    photo = processed_photo(album, faces_dir, "people/kit_harington/kit_harington_1.jpg")
    face = photo.faces.get()
    crop = face.crop.name
    client.force_login(member)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/faces/{face.pk}/not-a-face/", {"next": f"/photos/{photo.pk}/"})

    assert response.status_code == 302
    page = client.get(f"/photos/{photo.pk}/").content.decode()
    assert f'id="face-{face.pk}"' not in page
    assert f'data-face-id="{face.pk}"' not in page
    assert "0 faces" in page
    assert not Face.objects.filter(pk=face.pk).exists()
    kept = Face.all_objects.get(pk=face.pk)
    assert kept.status == Face.Status.NOT_A_FACE
    assert kept.embedding is None and kept.crop.name == "" and kept.person is None
    assert not default_storage.exists(crop)
    assert client.get(f"/faces/{face.pk}/crop/").status_code == 404


def test_a_tagged_face_said_to_be_no_face_is_no_longer_anyone_evidence(member, album, faces_dir):
    tagged = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    obama = Person.objects.create(name="Barack Obama")
    face_actions.face_tag(face=tagged, person=obama)
    other = processed_photo(album, faces_dir, "people/barack_obama/barack_obama_2.jpg").faces.get()
    assert other.person == obama and other.status == Face.Status.SUGGESTED
    probe = other.embedding

    face_actions.face_not_a_face(face=tagged)

    other.refresh_from_db()
    assert other.person is None  # the suggestion rested on that face alone
    obama.refresh_from_db()
    assert obama.cover_face_id is None
    assert list(selectors.person_photos(user=member, person=obama)) == []
    near = selectors.faces_confirmed_near(embedding=probe, model_name="Dlib", limit=10, seen_by=member)
    assert tagged.pk not in [n.face_id for n in near]
    found = similar.photos_similar(user=member, embedding=probe, model_name="Dlib")
    assert tagged.pk not in [s.face_id for s in found]


def test_it_is_neither_suggested_nor_grouped_nor_asked_about(client, member, album, faces_dir):
    first = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg").faces.get()
    second = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_2.jpg").faces.get()
    face_actions.face_not_a_face(face=first)

    recognition.faces_recognize(face_ids=[first.pk, second.pk])
    recognition.recluster()

    assert Face.all_objects.get(pk=first.pk).person is None
    assert first.pk not in [
        n.face_id for n in selectors.faces_near(embedding=second.embedding, model_name="Dlib", limit=10)
    ]
    client.force_login(member)
    who = client.get("/people/who/").content.decode()
    assert f'data-face-id="{first.pk}"' not in who
    assert f'data-face-id="{second.pk}"' in who
    assert (
        client.get(f"/people/who/?face={first.pk}").content.decode().count(f'data-face-id="{first.pk}"') == 0
    )


def test_reprocessing_the_photo_does_not_bring_it_back(member, album, faces_dir):
    photo = processed_photo(album, faces_dir, "groups/barack_obama_and_joe_biden_2.jpg")
    faces = list(photo.faces.order_by("x"))
    assert len(faces) == 2
    face_actions.face_not_a_face(face=faces[0])

    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)
    pipeline.photo_process(photo_id=photo.pk)
    pipeline.photo_reembed(photo_id=photo.pk)

    assert list(Face.objects.filter(photo=photo).values_list("pk", flat=True)) == [faces[1].pk]
    rejected = Face.all_objects.get(pk=faces[0].pk)
    assert rejected.status == Face.Status.NOT_A_FACE and rejected.embedding is None and not rejected.crop
    assert Face.all_objects.filter(photo=photo).count() == 2


def test_the_album_counts_no_box_said_to_be_no_face(client, member, album, faces_dir):
    photo = processed_photo(album, faces_dir, "groups/barack_obama_and_joe_biden_2.jpg")
    face_actions.face_not_a_face(face=photo.faces.first())

    assert selectors.album_photos(album=album).get().face_count == 1


def test_who_is_this_has_a_not_a_face_button_that_moves_on(client, member, album, faces_dir):
    first = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg").faces.get()
    second = processed_photo(album, faces_dir, "people/kit_harington/kit_harington_1.jpg").faces.get()
    client.force_login(member)
    page = client.get("/people/who/").content.decode()
    assert 'id="who-not-a-face"' in page and f"/faces/{first.pk}/not-a-face/" in page

    response = client.post(
        f"/faces/{first.pk}/not-a-face/", {"next": f"/people/who/?after=0&prev={first.pk}"}
    )

    assert response.status_code == 302
    following = client.get(response["Location"]).content.decode()
    assert f'data-face-id="{second.pk}"' in following
    assert "1 face left" in following


def test_it_refuses_get_and_faces_the_member_cannot_see(client, member, django_user_model, faces_dir):
    other = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    private = Album.objects.create(owner=other, title="Bob's")
    face = processed_photo(private, faces_dir, "people/joe_biden/joe_biden_1.jpg").faces.get()
    client.force_login(member)

    assert client.get(f"/faces/{face.pk}/not-a-face/").status_code == 405
    assert client.post(f"/faces/{face.pk}/not-a-face/").status_code == 404
    assert Face.objects.filter(pk=face.pk).exists()
    client.force_login(other)
    assert client.post(f"/faces/{face.pk}/not-a-face/").status_code == 302
    # Once said, the box is gone for everyone: a second time finds nothing.
    assert client.post(f"/faces/{face.pk}/not-a-face/").status_code == 404
