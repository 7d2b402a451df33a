"""Faces members draw where the detector missed one: tagged at once, cropped and
embedded by the worker when it can (then evidence), a tag only when it cannot."""

import time

import numpy as np
import pytest
from PIL import Image

from tagging import selectors
from tagging.faces import boxes as face_boxes
from tagging.models import Album, Face, Person, Photo
from tagging.services import manual_faces, pipeline
from tests.library import processed_photo

GROUP = "groups/barack_obama_and_joe_biden_2.jpg"
PORTRAITS = {
    "joe_biden": "people/joe_biden/joe_biden_1.jpg",
    "barack_obama": "people/barack_obama/barack_obama_1.jpg",
}


def _distance(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def missed(detections, settings):
    """The smaller face of the group photo, which a cap of one face per photo leaves
    out: its box (relative, a little loose, as a hand draws it), embedding and person."""
    settings.FACE_MAX_PER_PHOTO = 1
    (width, height), faces, _ = detections[GROUP]
    face = faces[1]
    portraits = {name: detections[path][1][0].embedding for name, path in PORTRAITS.items()}
    person = min(portraits, key=lambda name: _distance(portraits[name], face.embedding))
    pad_x, pad_y = face.w * 0.1, face.h * 0.1
    box = {
        "x": (face.x - pad_x) / width,
        "y": (face.y - pad_y) / height,
        "w": (face.w + 2 * pad_x) / width,
        "h": (face.h + 2 * pad_y) / height,
    }
    return {"box": box, "embedding": face.embedding, "person": person}


@pytest.fixture
def album(member):
    return Album.objects.create(owner=member, title="Mine")


def _wait_embedded(face_id: int, timeout: float = 90) -> Face:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        face = Face.objects.get(pk=face_id)
        if face.crop:
            return face
        time.sleep(0.2)
    raise AssertionError(f"drawn face {face_id} was not embedded within {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_the_worker_embeds_a_drawn_face_aligned_and_it_becomes_evidence(
    client, member, album, faces_dir, missed, celery_worker
):
    photo = processed_photo(album, faces_dir, GROUP)
    assert photo.faces.count() == 1
    client.force_login(member)

    response = client.post(f"/photos/{photo.pk}/faces/draw/", {**missed["box"], "name": "Someone Drawn"})

    face = Face.objects.get(photo=photo, source=Face.Source.MANUAL)
    assert response.status_code == 302 and response["Location"].endswith(f"#face-{face.pk}")
    assert face.status == Face.Status.CONFIRMED and face.person.name == "Someone Drawn"
    page = client.get(f"/photos/{photo.pk}/").content.decode()
    assert f'id="face-{face.pk}"' in page and "Someone Drawn" in page
    face = _wait_embedded(face.pk)
    # Aligned on the landmarks the detector found inside the box: the same
    # embedding, near enough, as the face detected in the usual way.
    assert face.embedding is not None
    assert _distance(face.embedding, missed["embedding"]) < 0.02
    assert client.get(f"/faces/{face.pk}/crop/").status_code == 200

    portrait = processed_photo(album, faces_dir, PORTRAITS[missed["person"]])
    suggested = portrait.faces.get()
    assert suggested.person == face.person and suggested.status == Face.Status.SUGGESTED


@pytest.mark.django_db
def test_a_box_without_a_face_the_detector_can_find_is_embedded_as_drawn(member, album, faces_dir, settings):
    photo = processed_photo(album, faces_dir, "people/kit_harington/kit_harington_1.jpg")
    face = manual_faces.face_draw(photo=photo, x=0.0, y=0.0, w=0.3, h=0.3, name="Background", user=member)
    image = np.asarray(Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").convert("RGB"))
    height, width = image.shape[:2]

    result = face_boxes.box_embed(
        image=image,
        box=(0, 0, int(width * 0.3), int(height * 0.3)),
        model_name="Dlib",
        detector=settings.FACE_DETECTOR,
        home=settings.DEEPFACE_HOME,
        min_side=20,
    )
    assert result is not None and not result.aligned
    assert manual_faces.drawn_face_embed(face_id=face.pk) is True

    face.refresh_from_db()
    assert face.embedding is not None and face.crop
    assert abs(np.linalg.norm(face.embedding) - 1) < 1e-3


@pytest.mark.django_db
def test_a_box_under_the_minimum_face_size_stays_a_tag_without_embedding(member, album, faces_dir, settings):
    photo = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg")
    detected = photo.faces.get()
    settings.FACE_MIN_SIZE = 10_000
    face = manual_faces.face_draw(
        photo=photo, x=detected.x, y=detected.y, w=detected.w, h=detected.h, name="Tiny", user=member
    )

    assert manual_faces.drawn_face_embed(face_id=face.pk) is False

    face.refresh_from_db()
    assert face.embedding is None and face.crop  # shown, never compared
    assert face.status == Face.Status.CONFIRMED and face.person.name == "Tiny"
    near = selectors.faces_confirmed_near(
        embedding=detected.embedding, model_name="Dlib", limit=10, seen_by=member
    )
    assert face.pk not in [n.face_id for n in near]


@pytest.mark.django_db
def test_a_drawn_face_of_someone_who_opted_out_gets_no_embedding_or_crop(member, album, faces_dir):
    Person.objects.create(name="Private Person", recognition_opt_out=True)
    photo = processed_photo(album, faces_dir, "people/joe_biden/joe_biden_1.jpg")
    detected = photo.faces.get()
    face = manual_faces.face_draw(
        photo=photo,
        x=detected.x,
        y=detected.y,
        w=detected.w,
        h=detected.h,
        name="Private Person",
        user=member,
    )

    assert manual_faces.drawn_face_embed(face_id=face.pk) is False

    face.refresh_from_db()
    assert face.person.name == "Private Person" and face.status == Face.Status.CONFIRMED
    assert face.embedding is None and not face.crop


@pytest.mark.django_db
def test_reprocessing_keeps_drawn_faces_and_drops_the_detection_on_them(
    member, album, faces_dir, missed, settings
):
    photo = processed_photo(album, faces_dir, GROUP)
    box = missed["box"]
    face = manual_faces.face_draw(photo=photo, name="Drawn", user=member, **box)
    manual_faces.drawn_face_embed(face_id=face.pk)
    face.refresh_from_db()
    settings.FACE_MAX_PER_PHOTO = 50

    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)
    pipeline.photo_process(photo_id=photo.pk)

    faces = list(Face.objects.filter(photo=photo))
    assert len(faces) == 2  # the other face, and the drawn one: not a third on top of it
    kept = Face.objects.get(pk=face.pk)
    assert kept.source == Face.Source.MANUAL and kept.person.name == "Drawn"
    assert (kept.x, kept.y, kept.w, kept.h) == (face.x, face.y, face.w, face.h)
    assert kept.crop.name == face.crop.name


@pytest.mark.django_db
def test_drawing_refuses_get_other_members_photos_and_empty_boxes(
    client, member, django_user_model, faces_dir
):
    other = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    private = Album.objects.create(owner=other, title="Bob's")
    photo = processed_photo(private, faces_dir, "people/joe_biden/joe_biden_1.jpg")
    box = {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "name": "Joe"}
    client.force_login(member)

    assert client.get(f"/photos/{photo.pk}/faces/draw/").status_code == 405
    assert client.post(f"/photos/{photo.pk}/faces/draw/", box).status_code == 404
    client.force_login(other)
    assert client.post(f"/photos/{photo.pk}/faces/draw/", {**box, "w": 0}).status_code == 302
    assert client.post(f"/photos/{photo.pk}/faces/draw/", {**box, "name": " "}).status_code == 302
    assert client.post(f"/photos/{photo.pk}/faces/draw/", {**box, "x": 7}).status_code == 302
    assert not Face.objects.filter(photo=photo, source=Face.Source.MANUAL).exists()
    page = client.get(f"/photos/{photo.pk}/").content.decode()
    assert 'id="draw-face"' in page and 'id="draw-form"' in page
