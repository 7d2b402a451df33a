"""Processing photos: faces found, stored, and found again idempotently."""

import io

import numpy as np
import pytest
from PIL import Image

from tagging.models import Face, Person, Photo
from tagging.services import pipeline
from tests.pipeline import (
    _exif_rotated,
    _fixtures,
    _photo,
    _process,
)

pytestmark = pytest.mark.django_db


def test_every_fixture_yields_the_faces_in_faces_csv(album, faces_dir):
    counts = {}
    for name, _ in _fixtures(faces_dir):
        photo = _process(_photo(album, (faces_dir / name).read_bytes(), name=name))
        assert photo.status == Photo.Status.DONE, (name, photo.error)
        counts[name] = photo.faces.count()

    assert counts == dict(_fixtures(faces_dir))


def test_it_stores_boxes_embeddings_crops_and_thumbnails(album, faces_dir):
    photo = _process(_photo(album, (faces_dir / "groups/barack_obama_and_joe_biden_2.jpg").read_bytes()))

    assert (photo.width, photo.height) == Image.open(
        faces_dir / "groups/barack_obama_and_joe_biden_2.jpg"
    ).size
    assert photo.face_model == "Dlib" and photo.attempts == 1 and photo.error == ""
    for face in photo.faces.all():
        assert 0 <= face.x < face.x + face.w <= 1 and 0 <= face.y < face.y + face.h <= 1
        assert face.status == Face.Status.UNASSIGNED and face.person is None
        assert len(face.embedding) == 128
        assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-4)
        with face.crop.open("rb") as crop:
            assert Image.open(crop).format == "JPEG"
    with photo.thumbnail.open("rb") as thumb:
        assert max(Image.open(thumb).size) <= pipeline.THUMBNAIL_SIDE


def test_rgba_pngs_work(album, faces_dir):
    for name in (
        "edge/rgba_32bit.png",
        "edge/lin_manuel_miranda_rgba.png",
        "people/alex_lacamoire/alex_lacamoire_3_rgba.png",
    ):
        photo = _process(_photo(album, (faces_dir / name).read_bytes(), name=name))
        assert photo.status == Photo.Status.DONE, photo.error
        assert photo.faces.count() == 1, name


def test_an_exif_rotated_photo_gets_its_box_on_the_face_as_displayed(album, faces_dir):
    path = faces_dir / "people/joe_biden/joe_biden_2.jpg"
    upright = _process(_photo(album, path.read_bytes())).faces.get()
    rotated_photo = _process(_photo(album, _exif_rotated(path), name="rotated.jpg"))
    rotated = rotated_photo.faces.get()

    assert (rotated_photo.width, rotated_photo.height) == Image.open(path).size
    for attr in ("x", "y", "w", "h"):
        assert getattr(rotated, attr) == pytest.approx(getattr(upright, attr), abs=0.03), attr


def test_a_photo_with_no_face_is_done_with_zero_faces(album):
    rng = np.random.default_rng(3)
    landscape = np.zeros((600, 900, 3), dtype=np.uint8)
    landscape[:300] = (120, 170, 230)  # sky
    landscape[300:] = (60, 120, 50)  # grass
    landscape = np.clip(landscape + rng.normal(0, 8, landscape.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(landscape).save(buffer, "JPEG")

    photo = _process(_photo(album, buffer.getvalue(), name="field.jpg"))

    assert photo.status == Photo.Status.DONE
    assert photo.faces.count() == 0
    assert photo.thumbnail.name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"Dear Alice,\nthe photos are attached.\n", "not an image"),
        ("truncated", "the file is truncated"),
        ("bomb", "the image is 400 megapixels; the limit is 100"),
    ],
    ids=["zero-byte", "text-named-jpg", "truncated-jpeg", "pixel-bomb"],
)
def test_bad_files_fail_at_once_with_a_clear_message(album, faces_dir, content, message):
    if content == "truncated":
        whole = (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes()
        content = whole[: len(whole) // 2]
    elif content == "bomb":
        buffer = io.BytesIO()
        Image.new("1", (20000, 20000)).save(buffer, "PNG")
        content = buffer.getvalue()

    photo = _process(_photo(album, content, name="bad.jpg"))

    assert photo.status == Photo.Status.FAILED
    assert message in photo.error
    assert photo.attempts == 1
    assert photo.faces.count() == 0


def test_running_twice_leaves_the_same_faces(album, faces_dir):
    photo = _process(_photo(album, (faces_dir / "groups/barack_obama_and_joe_biden_1.jpg").read_bytes()))
    first = {face.pk: (face.x, face.y) for face in photo.faces.all()}
    person = Person.objects.create(name="Barack Obama")
    tagged = photo.faces.first()
    tagged.person, tagged.status = person, Face.Status.CONFIRMED
    tagged.save()

    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)
    photo = _process(photo)

    again = {face.pk: (face.x, face.y) for face in photo.faces.all()}
    assert again.keys() == first.keys()
    for pk, (x, y) in first.items():
        assert again[pk] == pytest.approx((x, y), abs=1e-3)
    tagged.refresh_from_db()
    assert tagged.person == person and tagged.status == Face.Status.CONFIRMED


def test_a_second_run_of_a_claimed_photo_does_nothing(album, faces_dir):
    photo = _photo(album, (faces_dir / "people/joe_biden/joe_biden_1.jpg").read_bytes())
    assert pipeline.photo_claim(photo_id=photo.pk, token="first-task")

    assert pipeline.photo_process(photo_id=photo.pk, token="another-task") is None
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSING

    # The same task delivered again after its worker died takes the photo back.
    assert pipeline.photo_process(photo_id=photo.pk, token="first-task").status == Photo.Status.DONE


def test_a_missing_photo_is_ignored_quietly():
    assert pipeline.photo_process(photo_id=987654321) is None


def test_derivatives_carry_no_exif_or_gps_and_the_original_is_untouched(album, faces_dir):
    image = Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    original = buffer.getvalue()

    photo = _process(_photo(album, original))

    with photo.original.open("rb") as handle:
        assert handle.read() == original
    derivatives = [photo.thumbnail, photo.preview, *(face.crop for face in photo.faces.all())]
    assert len(derivatives) == 3
    for file in derivatives:
        with file.open("rb") as handle:
            data = handle.read()
        assert not Image.open(io.BytesIO(data)).getexif()
        assert b"Exif" not in data and b"CameraMaker" not in data
