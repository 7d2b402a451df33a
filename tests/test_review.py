"""The review grid ("Is this X?"), its counts on the people page, "Review all", and the
faces seen once: through the URLs, against the real PostgreSQL."""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from tagging.models import Album, Face, FaceRejection, Person
from tests.pages import _face, _json, _logged_in, _photo
from tests.pages.test_query_counts import MANY, _analyze, _many_photos

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="another horse battery")


@pytest.fixture
def alice(member):
    return _logged_in(member)


@pytest.fixture
def bob(other):
    return _logged_in(other)


@pytest.fixture
def album(member) -> Album:
    return Album.objects.create(owner=member, title="Uploads")


@dataclass
class Review:
    ann: Person
    ben: Person
    near: Face
    nearer: Face
    far: Face
    bobs: Face


def _suggest(photo, person, distance: float, x: float = 0.1) -> Face:
    face = _face(photo, person=person, status=Face.Status.SUGGESTED, x=x)
    Face.objects.filter(pk=face.pk).update(distance=distance)
    face.distance = distance
    return face


@pytest.fixture
def review(member, other) -> Review:
    mine = Album.objects.create(owner=member, title="Mine")
    bobs = Album.objects.create(owner=other, title="Bob's")
    ann, ben = Person.objects.create(name="Ann Lee"), Person.objects.create(name="Ben Ode")
    _face(_photo(mine, name="ann.jpg"), person=ann, status=Face.Status.CONFIRMED)
    _face(_photo(mine, name="ben.jpg"), person=ben, status=Face.Status.CONFIRMED)
    return Review(
        ann=ann,
        ben=ben,
        near=_suggest(_photo(mine, name="near.jpg"), ann, 0.05),
        nearer=_suggest(_photo(mine, name="nearer.jpg"), ann, 0.02),
        far=_suggest(_photo(mine, name="far.jpg"), ann, 0.085),
        bobs=_suggest(_photo(bobs, name="bobs-secret.jpg"), ann, 0.01),
    )


def _post(client, person: Person, **data):
    return client.post(reverse("person_review", args=[person.pk]), data, **_json())


class TestReviewGrid:
    def test_it_shows_likely_faces_ticked_and_maybe_faces_not_nearest_first(self, review, alice):
        response = alice.get(reverse("person", args=[review.ann.pk]))
        grid = response.context["review"]
        page = response.content.decode()

        assert [f.pk for f in grid.likely] == [review.nearer.pk, review.near.pk]
        assert [f.pk for f in grid.maybe] == [review.far.pk]
        assert page.index("nearer.jpg") < page.index("near.jpg") < page.index("far.jpg")
        assert f'name="faces" value="{review.nearer.pk}" checked' in page
        assert f'name="faces" value="{review.far.pk}">' in page  # not ticked
        assert "Confirm all likely" in page
        assert "bobs-secret.jpg" not in page


class TestReviewActions:
    def test_it_confirms_the_ticked_faces_and_leaves_the_others_as_they_were(self, review, alice):
        shown = [review.nearer.pk, review.near.pk, review.far.pk]
        answer = _post(alice, review.ann, faces=[review.nearer.pk, review.near.pk], shown=shown).json()

        assert answer["done"] == [review.nearer.pk, review.near.pk]
        assert answer["refused"] == {}
        assert answer["waiting"] == 0
        assert answer["message"] == "Confirmed 2 faces as Ann Lee."
        assert answer["undo"]["url"].startswith("/")  # the reply offers the same Undo as the pages
        states = dict(Face.objects.filter(pk__in=shown).values_list("pk", "status"))
        assert states == {
            review.nearer.pk: "confirmed",
            review.near.pk: "confirmed",
            review.far.pk: "suggested",
        }

    def test_a_face_now_suggested_for_someone_else_is_refused_with_the_reason(self, review, alice):
        # The page showed "near" as Ann; meanwhile a new tag made it Ben's suggestion.
        Face.objects.filter(pk=review.near.pk).update(person=review.ben, distance=0.03)

        answer = _post(alice, review.ann, faces=[review.nearer.pk, review.near.pk]).json()

        assert answer["done"] == [review.nearer.pk]
        assert answer["refused"] == {
            str(review.near.pk): "near.jpg: now suggested as Ben Ode; left as it is."
        }
        near = Face.objects.get(pk=review.near.pk)
        assert (near.person_id, near.status) == (review.ben.pk, Face.Status.SUGGESTED)

    def test_a_face_tagged_meanwhile_by_someone_else_is_refused_and_not_changed(self, review, alice):
        Face.objects.filter(pk=review.near.pk).update(person=review.ben, status=Face.Status.CONFIRMED)

        answer = _post(alice, review.ann, faces=[review.near.pk], action="reject").json()

        assert answer["done"] == []
        assert answer["refused"] == {
            str(review.near.pk): "near.jpg: already tagged as Ben Ode; left as it is."
        }
        assert not FaceRejection.objects.exists()
        assert Face.objects.get(pk=review.near.pk).status == Face.Status.CONFIRMED

    def test_one_not_button_rejects_that_face_only(self, review, alice):
        answer = _post(
            alice, review.ann, faces=[review.nearer.pk, review.near.pk], reject=review.far.pk
        ).json()

        assert answer["done"] == [review.far.pk]
        assert list(FaceRejection.objects.values_list("face_id", "person_id")) == [
            (review.far.pk, review.ann.pk)
        ]
        assert Face.objects.get(pk=review.nearer.pk).status == Face.Status.SUGGESTED

    def test_another_members_face_is_refused_as_if_it_did_not_exist(self, review, alice):
        answer = _post(alice, review.ann, faces=[review.bobs.pk]).json()

        assert answer["refused"] == {str(review.bobs.pk): "no longer there; left as it is."}
        assert Face.objects.get(pk=review.bobs.pk).status == Face.Status.SUGGESTED

    def test_it_says_how_many_suggestions_the_page_does_not_show(self, review, alice):
        answer = _post(alice, review.ann, faces=[review.nearer.pk], shown=[review.nearer.pk]).json()

        assert answer["waiting"] == 2  # near and far, not Bob's

    def test_the_form_without_script_says_what_was_left_and_why(self, review, alice):
        Face.objects.filter(pk=review.near.pk).unassign()

        response = alice.post(
            reverse("person_review", args=[review.ann.pk]),
            {"faces": [review.nearer.pk, review.near.pk], "walk": "1"},
            follow=True,
        )

        notes = [str(m) for m in response.context["messages"]]
        assert notes == ["Not changed: near.jpg: no longer suggested as Ann Lee; left as it is."]
        page = response.content.decode()
        assert "Confirmed 1 face as Ann Lee." in page and 'id="undo-button"' in page  # with its Undo
        assert response.redirect_chain[0][0] == review.ann.get_absolute_url() + "?walk=1"

    def test_it_refuses_a_get(self, review, alice):
        assert alice.get(reverse("person_review", args=[review.ann.pk])).status_code == 405


class TestPeopleCounts:
    def test_each_person_tile_says_how_many_suggestions_wait(self, review, alice):
        response = alice.get(reverse("people"))
        page = response.content.decode()

        counts = {p.name: p.review_count for p in response.context["people"]}
        assert counts == {"Ann Lee": 3, "Ben Ode": None}  # Bob's private one is not counted
        assert page.count("to review</a>") == 1 and "3 to review" in page
        assert "Review all (3)" in page

    def test_the_counts_cost_no_query_per_person(self, album, alice, django_assert_max_num_queries):
        photos = _many_photos(album)
        people = Person.objects.bulk_create(Person(name=f"Person {i:04}") for i in range(MANY))
        for status, offset in ((Face.Status.CONFIRMED, 0.1), (Face.Status.SUGGESTED, 0.5)):
            Face.objects.bulk_create(
                Face(
                    photo=photo,
                    person=person,
                    status=status,
                    x=offset,
                    y=0.1,
                    w=0.2,
                    h=0.2,
                    model_name="Dlib",
                )
                for photo, person in zip(photos, people, strict=True)
            )
        _analyze()

        with django_assert_max_num_queries(15):
            response = alice.get(reverse("people"))

        assert response.content.decode().count("1 to review</a>") == MANY


class TestReviewAll:
    def test_it_walks_person_by_person_by_name_until_nothing_is_left(self, review, alice):
        carl = Person.objects.create(name="Carl Ek")
        _suggest(review.near.photo, carl, 0.04, x=0.5)

        first = alice.get(reverse("people_review"))
        second = alice.get(reverse("people_review") + f"?after={review.ann.pk}")
        end = alice.get(reverse("people_review") + f"?after={carl.pk}")

        assert first.url == review.ann.get_absolute_url() + "?walk=1"
        assert second.url == carl.get_absolute_url() + "?walk=1"  # Ben has nothing waiting
        assert "4 suggestions still wait" in end.content.decode()

    def test_a_person_with_nothing_left_sends_the_walk_on(self, review, alice):
        Face.objects.filter(person=review.ann, status=Face.Status.SUGGESTED).unassign()

        response = alice.get(review.ann.get_absolute_url() + "?walk=1")

        assert response.url == reverse("people_review") + f"?after={review.ann.pk}"
        done = alice.get(response.url, follow=True).content.decode()
        assert "Nothing left to review." in done
        assert "3 faces still need a name." in done

    def test_it_never_visits_a_person_seen_only_in_another_members_private_album(self, review, other, bob):
        # Bob sees Ann (her face in his album) and his own suggestion only.
        assert bob.get(reverse("people_review")).url == review.ann.get_absolute_url() + "?walk=1"
        Face.objects.filter(pk=review.bobs.pk).unassign()
        assert "Nothing left to review." in bob.get(reverse("people_review")).content.decode()


class TestFacesSeenOnce:
    def test_a_face_nobody_grouped_appears_under_who_is_this(self, member, other, alice):
        mine = Album.objects.create(owner=member, title="Mine")
        single = _face(_photo(mine, name="stranger.jpg"))
        _face(_photo(Album.objects.create(owner=other, title="Bob's"), name="bobs-stranger.jpg"))

        page = alice.get(reverse("people")).content.decode()

        assert "Who is this?" in page
        assert f'data-face-id="{single.pk}"' in page
        assert "stranger.jpg" in page and "bobs-stranger.jpg" not in page

    def test_naming_it_there_tags_it_and_comes_back(self, member, alice):
        single = _face(_photo(Album.objects.create(owner=member, title="Mine")))

        response = alice.post(
            reverse("face_tag", args=[single.pk]), {"name": "Dora Fey", "next": reverse("people")}
        )

        assert response.url == reverse("people")
        single.refresh_from_db()
        assert (single.person.name, single.status) == ("Dora Fey", Face.Status.CONFIRMED)
