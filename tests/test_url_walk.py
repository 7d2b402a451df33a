"""Every URL of the site, walked as someone who may not see a member's private album.

The URL patterns are read from the URLconf, so a URL added later is walked
without a change here (a URL with a parameter this walk cannot fill fails the
test, asking for one). Each URL is filled with the ids of objects of Alice's
private album, or of a person seen only there, and again with ids that do not
exist; both are requested with GET and POST (with a valid CSRF token and
fields that name the private objects) as another member, as staff and
anonymously. The private request must answer exactly as the missing one does
(404 for a page about an object, the login page for anonymous visitors), carry
none of the private album's words, and change nothing in the database.
"""

import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tagging.models import Album, Face, FaceRejection, Person, PersonClaim, Photo, Undo
from tagging.services.undo import undoable

pytestmark = pytest.mark.django_db

MISSING = 987_654_321
# Words that exist only inside Alice's private album.
SECRETS = ["Zanzibar-album", "zanzibar-beach.jpg", "Zanzibar Quill"]
# Would end the walker's own session, or change what this walk does not look at.
NOT_WALKED = {"logout", "admin:logout"}


@dataclass
class Private:
    album: Album
    photos: list[Photo]
    faces: list[Face]
    people: list[Person]
    rejection: FaceRejection
    claim: PersonClaim
    undo: Undo

    def ids(self, model) -> list[int]:
        return {
            Album: [self.album.pk],
            Photo: [p.pk for p in self.photos],
            Face: [f.pk for f in self.faces],
            Person: [p.pk for p in self.people],
            FaceRejection: [self.rejection.pk],
            PersonClaim: [self.claim.pk],
            Undo: [self.undo.pk],
        }[model]


@pytest.fixture
def private(member) -> Private:
    album = Album.objects.create(owner=member, title=SECRETS[0])
    photo = Photo(album=album, uploaded_by=member, display_name=SECRETS[1], content_hash="a" * 64)
    photo.status = Photo.Status.DONE
    for field in ("original", "thumbnail", "preview"):
        getattr(photo, field).save("x", ContentFile(b"\xff\xd8\xff\xe0 not really"), save=False)
    photo.save()
    failed = Photo.objects.create(
        album=album,
        uploaded_by=member,
        display_name="b.jpg",
        content_hash="b" * 64,
        status="failed",
        error="x",
    )
    quill, group = Person.objects.create(name=SECRETS[2]), Person.objects.create()

    def face(x, person=None, status=Face.Status.UNASSIGNED):
        made = Face(photo=photo, x=x, y=0.1, w=0.1, h=0.1, model_name="Dlib", person=person, status=status)
        made.embedding = [0.1] * 128
        made.crop.save("x", ContentFile(b"\xff\xd8\xff"), save=False)
        made.save()
        return made

    faces = [
        face(0.0, quill, Face.Status.CONFIRMED),
        face(0.2, quill, Face.Status.SUGGESTED),
        face(0.4, group, Face.Status.SUGGESTED),
        face(0.6),
    ]
    rejection = FaceRejection.objects.create(face=faces[3], person=quill)
    claim = PersonClaim.objects.create(person=quill, user=member)
    # Alice's own undo of a tag there: nobody else may use it, or learn of it.
    with transaction.atomic(), undoable(user=member, kind=Undo.Kind.CONFIRM) as record:
        record.faces([faces[1].pk])
        Face.objects.filter(pk=faces[1].pk).confirm(quill)
        record.message = f"Tagged {SECRETS[2]}."
    undo = Undo.objects.get(user=member)
    return Private(album, [photo, failed], faces, [quill, group], rejection, claim, undo)


def _state() -> list:
    """Every row photosite keeps, to show that a walk changed none."""
    models = [m for m in apps.get_app_config("tagging").get_models()]
    rows = [sorted(map(str, model.objects.values_list())) for model in models]
    users = get_user_model().objects.values_list("pk", "username", "password", "is_staff", "is_active")
    rows.append(sorted(users))
    return rows


# --- Reading the URLconf ------------------------------------------------------------


def _patterns(patterns=None, prefix="", namespace=""):
    """(namespace:name, route with its parameters) for every URL pattern, depth first."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + _route(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else None), route


def _route(pattern) -> str:
    """A pattern as a route with ``<name>`` for each parameter (regex groups too)."""
    text = str(pattern)
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", text)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def _admin_model(name: str | None, route: str):
    """The model an admin URL is about, from its name or its route."""
    for model in admin.site._registry:
        meta = model._meta
        if name and name.startswith(f"admin:{meta.app_label}_{meta.model_name}_"):
            return model
        if f"{meta.app_label}/{meta.model_name}/" in route:
            return model
    return None


def _fillings(name: str | None, route: str, private: Private):
    """(private, missing) parameter sets for one route; none for what no member owns."""
    params = re.findall(r"<(\w+)>", route)
    model = _admin_model(name, route)
    if model is not None and model._meta.app_label != "tagging":
        return  # users and groups belong to no album
    by_param = {
        "album_id": private.ids(Album),
        "photo_id": private.ids(Photo),
        "face_id": private.ids(Face),
        "person_id": private.ids(Person),
        "claim_id": private.ids(PersonClaim),
        "undo_id": private.ids(Undo),
        "object_id": private.ids(model) if model else None,
    }
    plain = {"app_label": "tagging", "uidb64": "MQ", "token": "set-password", "url": "tagging/nothing/"}
    if "content_type_id" in params:
        for model in [Album, Photo, Face, Person, FaceRejection, PersonClaim]:
            ct = ContentType.objects.get_for_model(model).pk
            for pk in private.ids(model):
                yield {"content_type_id": ct, "object_id": pk}, {"content_type_id": ct, "object_id": MISSING}
        return
    unknown = [p for p in params if p not in by_param and p not in plain]
    assert not unknown, f"{route}: the walk does not know what to put for {unknown}; add it to _fillings"
    ids = [p for p in params if p in by_param]
    if not ids:
        fixed = {p: plain[p] for p in params}
        yield fixed, fixed
        return
    assert len(ids) == 1, route
    for pk in by_param[ids[0]]:
        yield (
            {ids[0]: pk, **{p: plain[p] for p in params if p in plain}},
            {
                ids[0]: MISSING,
                **{p: plain[p] for p in params if p in plain},
            },
        )


def _url(route: str, values: dict) -> str:
    return "/" + re.sub(r"<(\w+)>", lambda m: str(values[m.group(1)]), route)


def _query(route: str, pks: dict) -> str:
    """Query parameters that name the objects (or search for the private words)."""
    if "autocomplete" in route:
        return "?term=Zanzibar&app_label=tagging&model_name=face&field_name=person"
    if route.startswith("admin/"):
        return "?q=Zanzibar"  # the admin's search; other parameters would be lookups
    return f"?face={pks['face']}&people={pks['person']}&q=Zanzibar"


def _fields(pks: dict) -> dict:
    """Plausible fields naming the objects: enough for any form of the site to act on them."""
    return {
        "faces": [pks["face"]],
        "people": [pks["person"], pks["other_person"]],
        "keep": pks["person"],
        "person": pks["person"],
        "face": pks["face"],
        "photos": [pks["photo"]],
        "_selected_action": [pks["person"], pks["photo"], pks["face"], pks["album"]],
        "action": "confirm",
        "decision": "approve",
        "op": "detach",
        "name": "Zed",
        "password": "not the password",
        "post": "yes",
        "index": "0",
    }


# --- The walk -----------------------------------------------------------------------


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get(reverse("login"))  # the CSRF cookie, as a browser gets it
    return client


def _send(client: Client, method: str, url: str, fields: dict, query: str):
    token = client.cookies["csrftoken"].value
    if method == "GET":
        return client.get(url + query)
    return client.post(url, {**fields, "csrfmiddlewaretoken": token}, headers={"x-csrftoken": token})


def _login_redirect(response) -> bool:
    login_urls = (reverse("login"), reverse("admin:login"))
    return response.status_code == 302 and response.url.split("?")[0] in login_urls


@pytest.fixture
def walkers(django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="bob-password-1")
    staff = django_user_model.objects.create_user(
        username="root", password="root-password-1", is_staff=True, is_superuser=True
    )
    return {"member": bob, "staff": staff, "anonymous": None}


def _actions() -> set[str]:
    """Every admin action, so that a changelist POST tries each one on the private ids."""
    names = set()
    for model_admin in admin.site._registry.values():
        names.update(a if isinstance(a, str) else a.__name__ for a in model_admin.actions or [])
    return names | {"delete_selected"}


@pytest.mark.parametrize("who", ["member", "staff", "anonymous"])
def test_every_url_treats_a_private_album_as_missing(who, private, walkers):
    client = _client(walkers[who])
    private_pks = {
        "face": private.faces[0].pk,
        "person": private.people[0].pk,
        "other_person": private.people[1].pk,
        "photo": private.photos[0].pk,
        "album": private.album.pk,
    }
    missing_pks = dict.fromkeys(private_pks, MISSING)
    before = _state()
    walked = 0
    for name, route in _patterns():
        if name in NOT_WALKED:
            continue
        for forbidden, missing in _fillings(name, route, private):
            has_id = forbidden != missing
            for method in ("GET", "POST"):
                if method == "POST" and route.endswith("add/"):
                    continue  # staff may add a person or an album: not this walk's question
                changelist = method == "POST" and (name or "").endswith("_changelist")
                for action in sorted(_actions()) if changelist else [None]:
                    fields_forbidden, fields_missing = _fields(private_pks), _fields(missing_pks)
                    if action:
                        fields_forbidden["action"] = fields_missing["action"] = action
                    url = _url(route, forbidden)
                    got = _send(client, method, url, fields_forbidden, _query(route, private_pks))
                    absent = _send(
                        client, method, _url(route, missing), fields_missing, _query(route, missing_pks)
                    )
                    where = f"{who} {method} {url} {action or ''}"
                    walked += 1
                    assert got.status_code == absent.status_code, where
                    if got.status_code == 302 and not _login_redirect(got):
                        # Nowhere a missing object would not lead: the same place, or the
                        # same address with its own id (the admin's "<id>/" to "<id>/change/").
                        pk = str(next(iter(v for k, v in forbidden.items() if k.endswith("id")), ""))
                        assert got.url == absent.url.replace(str(MISSING), pk), where
                        if has_id:
                            assert client.get(got.url).status_code == 404, where
                    elif has_id:
                        assert got.status_code in (403, 404, 405) or _login_redirect(got), where
                    body = b"".join(got.streaming_content) if got.streaming else got.content
                    for secret in SECRETS:
                        assert secret.encode() not in body, f"{where}: {secret}"
    assert walked > 100  # the walk did walk
    assert _state() == before


def test_the_walk_sees_the_private_album_as_its_owner_does(private, member):
    """The control: the same ids work for Alice, so the refusals above are not an accident."""
    client = _client(member)
    album_page = client.get(reverse("album", args=[private.album.pk])).content.decode()
    assert SECRETS[0] in album_page
    assert client.get(reverse("person", args=[private.people[0].pk])).status_code == 200
    assert client.get(reverse("face_crop", args=[private.faces[0].pk])).status_code == 200
