"""The access rule in action: people are private like photos, evidence follows visibility,
"This is me" is a claim staff approve, opt-out sticks, admin and display copies hold it.

The walk of every URL (tests/test_url_walk.py) shows that nothing private answers;
these tests show what each rule does for the people it is for.
"""

import io
import time
import zipfile

import numpy as np
import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image

from tagging import selectors
from tagging.models import Album, Face, Person, PersonClaim, Photo
from tagging.services import faces as face_actions
from tagging.services import pipeline, privacy, recognition
from tagging.services.albums import photos_reprocess
from tagging.services.metadata import exif_gps_erase, jpeg_strip_metadata, jpeg_without_location
from tests.library import processed_photo

pytestmark = pytest.mark.django_db

GPS_LATITUDE = (51.0, 30.0, 12.5)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-password-1")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="root", password="root-password-1", is_staff=True, is_superuser=True
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _album(owner, title="Album", shared=False) -> Album:
    visibility = Album.Visibility.MEMBERS if shared else Album.Visibility.PRIVATE
    return Album.objects.create(owner=owner, title=title, visibility=visibility)


def _bare_face(photo: Photo, person=None, status=Face.Status.UNASSIGNED, x=0.1) -> Face:
    face = Face(photo=photo, x=x, y=0.1, w=0.1, h=0.1, model_name="Dlib", person=person, status=status)
    face.embedding = [0.1] * 128
    face.crop.save("x", ContentFile(b"\xff\xd8\xff"), save=False)
    face.save()
    return face


def _bare_photo(album: Album, name="p.jpg") -> Photo:
    return Photo.objects.create(
        album=album,
        uploaded_by=album.owner,
        display_name=name,
        content_hash=name.ljust(64, "0"),
        status="done",
    )


# --- One rule: who may know of a person ---------------------------------------------


def test_a_person_is_visible_only_through_a_face_the_viewer_may_see(member, bob, staff):
    private, shared = _album(member, "Mine"), _album(member, "Ours", shared=True)
    only_private = Person.objects.create(name="Private Pat")
    _bare_face(_bare_photo(private), only_private, Face.Status.CONFIRMED)
    everyone = Person.objects.create(name="Shared Sam")
    _bare_face(_bare_photo(shared, "s.jpg"), everyone, Face.Status.CONFIRMED)
    Person.objects.create(name="Bob himself", user=bob)
    hidden = Person.objects.create(name="Hidden Hal", hidden=True)
    _bare_face(_bare_photo(shared, "h.jpg"), hidden, Face.Status.CONFIRMED)

    def seen(user):
        return set(Person.objects.visible_to(user).values_list("name", flat=True))

    assert seen(member) == {"Private Pat", "Shared Sam"}
    assert seen(bob) == {"Shared Sam", "Bob himself"}
    # Staff see hidden people and faceless ones (a name alone shows no photo), never private ones.
    assert seen(staff) == {"Shared Sam", "Bob himself", "Hidden Hal"}
    assert _client(bob).get(reverse("person", args=[only_private.pk])).status_code == 404
    assert _client(staff).get(reverse("person", args=[only_private.pk])).status_code == 404


# --- Evidence follows visibility -----------------------------------------------------


def test_a_name_given_in_a_private_album_is_never_suggested_elsewhere(member, bob, faces_dir):
    private = _album(member, "Alice's")
    tagged = processed_photo(private, faces_dir, "people/barack_obama/barack_obama_1.jpg").faces.get()
    joe = face_actions.face_tag_new_person(face=tagged, name="Barack Obama").person

    theirs = processed_photo(_album(bob, "Bob's"), faces_dir, "people/barack_obama/barack_obama_2.jpg")
    bobs = theirs.faces.get()
    alices = processed_photo(
        _album(member, "Alice's too"), faces_dir, "people/barack_obama/barack_obama_3.jpg"
    )

    assert bobs.person_id != joe.pk
    # The control: the same tag is evidence for the photos of the member who could see it.
    assert alices.faces.get().person_id == joe.pk


def test_naming_a_group_names_only_the_faces_the_member_may_see(member, bob):
    alice_private = _bare_photo(_album(member, "Alice's"), "a.jpg")
    bob_photo = _bare_photo(_album(bob, "Bob's"), "b.jpg")
    group = Person.objects.create()
    unseen = _bare_face(alice_private, group, Face.Status.SUGGESTED)
    seen = _bare_face(bob_photo, group, Face.Status.SUGGESTED)

    response = _client(bob).post(reverse("person_naming", args=[group.pk]), {"name": "Carla"})

    assert response.status_code == 302
    seen.refresh_from_db()
    unseen.refresh_from_db()
    assert (seen.person.name, seen.status) == ("Carla", Face.Status.CONFIRMED)
    # Alice's face splits off into an unnamed group of its own, still open to her naming.
    assert unseen.person_id not in (None, group.pk) and unseen.person.name == ""
    assert unseen.status == Face.Status.SUGGESTED


def test_a_member_tagging_a_name_seen_only_elsewhere_makes_a_person_of_their_own(member, bob):
    private_ann = Person.objects.create(name="Ann")
    _bare_face(_bare_photo(_album(member, "Alice's")), private_ann, Face.Status.CONFIRMED)
    face = _bare_face(_bare_photo(_album(bob, "Bob's"), "b.jpg"))

    _client(bob).post(reverse("face_tag", args=[face.pk]), {"name": "ann"})

    face.refresh_from_db()
    assert face.status == Face.Status.CONFIRMED and face.person.name == "ann"
    assert face.person_id != private_ann.pk  # nothing told Bob that an Ann exists


# --- "This is me" is a claim staff approve ------------------------------------------


@pytest.fixture
def claimable(member, bob):
    """Bob, in a photo of Alice's shared album, and one more in her private album."""
    bob_person = Person.objects.create(name="Bob Smith")
    shared = _bare_face(
        _bare_photo(_album(member, "Party", shared=True), "party.jpg"), bob_person, "confirmed"
    )
    private = _bare_face(_bare_photo(_album(member, "Diary"), "diary.jpg"), bob_person, "confirmed")
    return bob_person, shared, private


def test_this_is_me_changes_nothing_until_staff_approve(claimable, bob, staff):
    person, shared, private = claimable
    response = _client(bob).post(reverse("person_this_is_me", args=[person.pk]), follow=True)

    person.refresh_from_db()
    assert person.user is None
    assert "Asked staff to confirm" in response.content.decode()
    assert "Staff check that before anything changes" in _client(bob).get(reverse("account")).content.decode()
    # Bob cannot opt out of anything yet.
    _client(bob).post(reverse("opt_out"))
    assert Face.objects.filter(pk__in=[shared.pk, private.pk], embedding__isnull=True).count() == 0

    page = _client(staff).get(reverse("claims")).content.decode()
    assert "bob" in page and "Bob Smith" in page
    assert reverse("face_crop", args=[shared.pk]) in page
    assert reverse("face_crop", args=[private.pk]) not in page  # staff see only what they may

    claim = PersonClaim.objects.get()
    _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "approve"})

    person.refresh_from_db()
    assert person.user == bob
    assert PersonClaim.objects.get().status == PersonClaim.Status.APPROVED
    assert LogEntry.objects.filter(
        object_id=str(person.pk), change_message__contains="Linked to bob"
    ).exists()
    assert "Your account is linked to" in _client(bob).get(reverse("account")).content.decode()


def test_a_refused_claim_links_nothing_and_the_member_is_told(claimable, bob, staff):
    person, _, _ = claimable
    claim = privacy.person_claim(person=person, user=bob)

    _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "refuse"})

    person.refresh_from_db()
    assert person.user is None
    assert "Staff did not link you to Bob Smith" in _client(bob).get(reverse("account")).content.decode()


def test_a_member_can_withdraw_a_claim_and_a_link(claimable, bob, staff):
    person, _, _ = claimable
    privacy.person_claim(person=person, user=bob)
    _client(bob).post(reverse("claim_withdraw"))
    assert PersonClaim.objects.get().status == PersonClaim.Status.WITHDRAWN
    assert "Bob Smith" not in _client(staff).get(reverse("claims")).content.decode()

    privacy.person_link(person=person, user=bob, actor=staff)
    _client(bob).post(reverse("person_unlink"))

    person.refresh_from_db()
    assert person.user is None


def test_staff_can_link_a_member_directly_in_the_admin(claimable, bob, staff):
    person, _, _ = claimable
    privacy.person_claim(person=person, user=bob)
    url = reverse("admin:tagging_person_change", args=[person.pk])

    response = _client(staff).post(url, {"name": "Bob Smith", "user": bob.pk})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user == bob


def test_a_claim_on_a_person_seen_only_in_a_private_album_reaches_no_staff_member(member, bob, staff):
    person = Person.objects.create(name="Only Alice knows")
    _bare_face(_bare_photo(_album(member, "Diary")), person, Face.Status.CONFIRMED)
    claim = privacy.person_claim(person=person, user=member)  # Alice may: she sees the person

    assert "Only Alice knows" not in _client(staff).get(reverse("claims")).content.decode()
    assert (
        _client(staff).post(reverse("claim_decide", args=[claim.pk]), {"decision": "approve"}).status_code
        == 404
    )
    admin_list = _client(staff).get(reverse("admin:tagging_personclaim_changelist")).content.decode()
    assert "Only Alice knows" not in admin_list


def test_opting_out_counts_only_the_faces_the_member_may_see(
    claimable, bob, staff, django_capture_on_commit_callbacks
):
    person, shared, private = claimable
    privacy.person_link(person=person, user=bob, actor=staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = _client(bob).post(reverse("opt_out"), follow=True)

    assert "1 face you can see forgotten" in response.content.decode()
    # Both are forgotten all the same: the opt-out is about Bob's face, wherever it is.
    assert Face.objects.filter(pk__in=[shared.pk, private.pk], embedding__isnull=True, crop="").count() == 2


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


# --- Display copies and originals --------------------------------------------------


def _jpeg_with_gps(faces_dir, *, trailer: bytes = b"") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    exif.get_ifd(0x8825)[1] = "N"
    buffer = io.BytesIO()
    Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue() + trailer


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secret.txt", "the polyglot's payload")
    return buffer.getvalue()


def test_a_preview_ends_where_the_image_ends(faces_dir):
    polyglot = _jpeg_with_gps(faces_dir, trailer=_zip())
    progressive = io.BytesIO()
    Image.open(faces_dir / "people/kit_harington/kit_harington_1.jpg").save(
        progressive, "JPEG", progressive=True
    )

    stripped = jpeg_strip_metadata(polyglot)
    stripped_progressive = jpeg_strip_metadata(progressive.getvalue() + b"MOTIONVIDEO")

    assert stripped.endswith(b"\xff\xd9") and b"polyglot" not in stripped and b"PK" not in stripped[-200:]
    assert not _gps(stripped)
    for before, after in [(polyglot, stripped), (progressive.getvalue(), stripped_progressive)]:
        pixels = np.asarray(Image.open(io.BytesIO(before)).convert("RGB"))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(after)).convert("RGB")), pixels)


def test_a_polyglot_upload_gets_a_preview_without_its_payload(
    member, faces_dir, django_capture_on_commit_callbacks
):
    album = _album(member)
    photo = Photo(album=album, uploaded_by=member, display_name="p.jpg", content_hash="p" * 64)
    photo.original.save("x", ContentFile(_jpeg_with_gps(faces_dir, trailer=_zip())), save=False)
    photo.save()

    pipeline.photo_process(photo_id=photo.pk)

    photo.refresh_from_db()
    preview = default_storage.open(photo.preview.name).read()
    assert photo.status == Photo.Status.DONE
    assert b"polyglot" not in preview and preview.endswith(b"\xff\xd9")


def test_removing_the_location_keeps_every_other_byte_of_the_picture(faces_dir):
    original = _jpeg_with_gps(faces_dir)

    cleaned = jpeg_without_location(original)

    assert _gps(original)[2] == GPS_LATITUDE
    assert not _gps(cleaned)
    assert Image.open(io.BytesIO(cleaned)).getexif()[0x010F] == "CameraMaker"
    assert len(cleaned) == len(original)  # erased in place: every offset stays valid
    pixels = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(cleaned)).convert("RGB")), pixels)
    assert exif_gps_erase(b"not exif") == b""  # unreadable: dropped, never kept by mistake


def _original_photo(owner, faces_dir, *, share_location: bool) -> Photo:
    album = _album(owner, "Trip", shared=True)
    Album.objects.filter(pk=album.pk).update(share_location=share_location)
    photo = Photo(
        album=album, uploaded_by=owner, display_name="trip.jpg", content_hash="t" * 64, status="done"
    )
    photo.original.save("x", ContentFile(_jpeg_with_gps(faces_dir)), save=False)
    photo.save()
    return photo


def test_originals_reach_others_without_their_position(member, bob, faces_dir):
    photo = _original_photo(member, faces_dir, share_location=False)
    url = reverse("photo_original", args=[photo.pk])

    as_owner = _client(member).get(url)
    as_other = _client(bob).get(url)

    assert _gps(b"".join(as_owner.streaming_content))[2] == GPS_LATITUDE
    assert as_other.status_code == 200 and as_other["Content-Type"] == "image/jpeg"
    assert not _gps(as_other.content)


def test_an_album_that_shares_locations_gives_others_the_position(member, bob, faces_dir):
    photo = _original_photo(member, faces_dir, share_location=True)

    response = _client(bob).get(reverse("photo_original", args=[photo.pk]))

    assert _gps(b"".join(response.streaming_content))[2] == GPS_LATITUDE


def test_a_png_original_reaches_others_as_pixels_only(member, bob):
    album = _album(member, "Pngs", shared=True)
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, "PNG", exif=exif)
    photo = Photo(album=album, uploaded_by=member, display_name="a.png", content_hash="q" * 64, status="done")
    photo.original.save("x", ContentFile(buffer.getvalue()), save=False)
    photo.save()

    response = _client(bob).get(reverse("photo_original", args=[photo.pk]))

    assert response["Content-Type"] == "image/png"
    assert not _gps(response.content)
    assert Image.open(io.BytesIO(response.content)).getpixel((5, 5)) == (10, 200, 30)


# --- Login throttling behind the proxy ---------------------------------------------


def _login(client: Client, address: str, password: str, forged: str = ""):
    # What nginx sends: whatever the client claimed, then the address it saw.
    forwarded = f"{forged}, {address}" if forged else address
    return client.post(
        reverse("login"),
        {"username": "alice", "password": password},
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_the_proxy_one_locked_out_client_does_not_lock_out_another(member, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker, alice = Client(), Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, "203.0.113.9", "wrong")

    assert _login(attacker, "203.0.113.9", "correct horse battery").status_code == 429
    assert _login(alice, "198.51.100.7", "correct horse battery").status_code == 302


def test_a_forged_forwarded_address_neither_bypasses_the_lock_nor_locks_out_another(member, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker, alice = Client(), Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        # Each try claims to come from Alice's address.
        _login(attacker, "203.0.113.9", "wrong", forged="198.51.100.7")

    assert _login(attacker, "203.0.113.9", "correct horse battery", forged="192.0.2.1").status_code == 429
    assert _login(alice, "198.51.100.7", "correct horse battery").status_code == 302


def test_without_a_proxy_the_forwarded_header_is_ignored(member, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(
            reverse("login"),
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )

    fresh_header = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "192.0.2.44"}
    response = attacker.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery"}, **fresh_header
    )
    assert response.status_code == 429


def test_staff_cannot_approve_their_own_claim(claimable, staff):
    person, _, _ = claimable
    claim = privacy.person_claim(person=person, user=staff)

    assert "Bob Smith" not in _client(staff).get(reverse("claims")).content.decode()
    with pytest.raises(privacy.PrivacyError, match="another member of staff"):
        privacy.claim_decide(claim=claim, approve=True, actor=staff)
    person.refresh_from_db()
    assert person.user is None
