"""Refusals a member reads: every service refusal is an ActionRefused, and views answer
them in one place (views/replies.py): a message after a redirect, or a JSON 400 for a script."""

import pytest
from django.test import Client
from django.urls import reverse

from tagging.errors import ActionRefused
from tagging.models import Album, Face, Photo
from tagging.queue import ProbeUnanswered
from tagging.services.faces import FaceActionError, NameTaken
from tagging.services.invitations import InvitationUnusable, InvitationWrongEmail
from tagging.services.merge import MergeError
from tagging.services.people import PeopleError
from tagging.services.privacy import PrivacyError
from tagging.services.uploads import UploadRejected

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "error",
    [
        FaceActionError,
        NameTaken,
        PeopleError,
        MergeError,
        PrivacyError,
        UploadRejected,
        InvitationUnusable,
        InvitationWrongEmail,
        ProbeUnanswered,
    ],
)
def test_every_refusal_a_member_reads_is_an_action_refused(error):
    assert issubclass(error, ActionRefused)


@pytest.fixture
def face(member) -> Face:
    album = Album.objects.create(owner=member, title="Mine")
    photo = Photo.objects.create(album=album, uploaded_by=member, content_hash="f" * 64, status="done")
    return Face.objects.create(photo=photo, x=0.1, y=0.1, w=0.2, h=0.2, model_name="Dlib")


@pytest.fixture
def client_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_a_refused_form_post_goes_back_with_the_message(client_in, face):
    response = client_in.post(reverse("face_confirm", args=[face.pk]), follow=True)

    assert response.redirect_chain == [(face.photo.get_absolute_url(), 302)]
    assert [str(m) for m in response.context["messages"]] == ["this face has no suggestion to confirm"]


def test_a_refused_script_request_is_a_json_400_with_the_message(client_in, face):
    response = client_in.post(reverse("face_untag", args=[face.pk]), headers={"accept": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"error": "this face is not tagged"}


def test_a_refusal_can_be_put_in_a_sentence(client_in, member):
    album = Album.objects.create(owner=member, title="Mine")

    response = client_in.post(reverse("album_upload", args=[album.pk]), {}, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Nothing was uploaded: no file in the request."]
