"""Suggestions and grouping in pgvector, with real embeddings of the shared photographs."""

from collections import defaultdict

import numpy as np
import pytest
from django.db import connection, transaction

from tagging import selectors, vectors
from tagging.models import Album, Face, FaceRejection, Person, Photo
from tagging.services import faces as face_actions
from tagging.services import recognition
from tests.circle import faces_at
from tests.plans import forbid_scans_and_sorts

# Transactional: the library fixture vacuums the face indexes first (see conftest).
pytestmark = pytest.mark.django_db(transaction=True)


def _confirm_first_portraits(library) -> dict[str, Person]:
    people = {}
    for name in sorted(library.faces):
        if not name.startswith("people/"):
            continue
        who = name.split("/")[1]
        if who not in people:
            people[who] = Person.objects.create(name=who)
            face_actions.face_tag(face=library.first(name), person=people[who])
    return people


def test_confirming_one_portrait_each_suggests_everyone_else_correctly(library, detections):
    recognition.faces_recognize(face_ids=library.all_ids())
    people = _confirm_first_portraits(library)
    by_id = {person.pk: name for name, person in people.items()}

    for name, (_, _, truth) in detections.items():
        faces = Face.objects.filter(pk__in=[f.pk for f in library.faces[name]]).order_by("-w")
        named = [by_id[f.person_id] for f in faces if f.person_id in by_id]
        # No wrong suggestion anywhere, and nobody twice on one photo.
        assert set(named) <= set(truth), (name, named)
        assert len(named) == len(set(named)), (name, named)
        if name.startswith("people/"):
            assert named == [truth[0]], name
        if name.startswith("groups/"):
            assert set(named) == set(truth), name


def test_a_rejected_suggestion_never_comes_back(library):
    obama = Person.objects.create(name="Barack Obama")
    face_actions.face_tag(face=library.first("people/barack_obama/barack_obama_1.jpg"), person=obama)
    face = library.first("people/barack_obama/barack_obama_2.jpg")
    assert (face.person, face.status) == (obama, Face.Status.SUGGESTED)

    face_actions.face_reject(face=face)
    # More evidence for Obama arrives: still not suggested for this face.
    face_actions.face_tag(face=library.first("people/barack_obama/barack_obama_3.jpg"), person=obama)
    face_actions.face_tag(face=library.first("edge/rgba_32bit.png"), person=obama)
    recognition.faces_recognize(face_ids=[face.pk])

    face.refresh_from_db()
    assert face.person_id != obama.pk
    assert FaceRejection.objects.filter(face=face, person=obama).exists()


def test_unknown_faces_of_one_person_form_one_group_and_no_group_mixes_people(library):
    recognition.faces_recognize(face_ids=library.all_ids())

    groups = defaultdict(set)
    person_groups = defaultdict(set)
    for face_id, truth in library.truth.items():
        face = Face.objects.get(pk=face_id)
        if face.person_id is not None:
            assert face.person.name == "" and face.status == Face.Status.SUGGESTED
            groups[face.person_id].add(truth)
            person_groups[truth].add(face.person_id)
    assert all(len(members) == 1 for members in groups.values()), groups
    counts = defaultdict(int)
    for truth in library.truth.values():
        counts[truth] += 1
    for truth, count in counts.items():
        if count >= 2:
            assert len(person_groups[truth]) == 1, (truth, person_groups[truth])
    # The only photo of Lin-Manuel Miranda forms no group of its own.
    assert library.first("edge/lin_manuel_miranda_rgba.png").person is None


def test_naming_a_group_confirms_it_and_keeps_every_confirmed_tag(library):
    kit = Person.objects.create(name="Kit Harington")
    confirmed = face_actions.face_tag(
        face=library.first("people/kit_harington/kit_harington_1.jpg"), person=kit
    )
    recognition.faces_recognize(face_ids=library.all_ids())
    rose_face = library.first("people/rose_leslie/rose_leslie_1.jpg")
    group = rose_face.person
    assert group is not None and group.name == ""

    face_actions.group_name(person=group, name="Rose Leslie", actor=library.owner)

    group.refresh_from_db()
    assert group.name == "Rose Leslie"
    assert set(group.faces.values_list("status", flat=True)) == {Face.Status.CONFIRMED}
    assert group.faces.count() >= 2
    confirmed.refresh_from_db()
    assert (confirmed.person, confirmed.status) == (kit, Face.Status.CONFIRMED)


def test_naming_a_group_with_a_name_in_use_offers_the_existing_person(library):
    recognition.faces_recognize(face_ids=library.all_ids())
    existing = Person.objects.create(name="Joe Biden")
    # Someone the member may know of: tagged on one of their photos.
    face_actions.face_tag(face=library.first("people/kit_harington/kit_harington_1.jpg"), person=existing)
    group = library.first("people/joe_biden/joe_biden_1.jpg").person

    with pytest.raises(face_actions.NameTaken) as raised:
        face_actions.group_name(person=group, name="joe biden", actor=library.owner)
    assert raised.value.existing == existing


def test_untagging_withdraws_the_suggestions_it_supported(library):
    biden = Person.objects.create(name="Joe Biden")
    tag = face_actions.face_tag(face=library.first("people/joe_biden/joe_biden_1.jpg"), person=biden)
    other = library.first("people/joe_biden/joe_biden_2.jpg")
    assert other.person == biden

    face_actions.face_untag(face=tag)

    other.refresh_from_db()
    assert other.person_id != biden.pk


def test_machine_never_changes_a_confirmed_tag(library):
    wrong = Person.objects.create(name="Not Obama")
    face = face_actions.face_tag(face=library.first("people/barack_obama/barack_obama_1.jpg"), person=wrong)
    obama = Person.objects.create(name="Barack Obama")
    face_actions.face_tag(face=library.first("people/barack_obama/barack_obama_2.jpg"), person=obama)
    face_actions.face_tag(face=library.first("people/barack_obama/barack_obama_3.jpg"), person=obama)
    recognition.faces_recognize(face_ids=library.all_ids())
    recognition.recluster()

    face.refresh_from_db()
    assert (face.person, face.status) == (wrong, Face.Status.CONFIRMED)


def test_people_who_opted_out_are_never_suggested(library):
    obama = Person.objects.create(name="Barack Obama", recognition_opt_out=True)
    Face.objects.filter(pk=library.first("people/barack_obama/barack_obama_1.jpg").pk).update(
        person=obama, status=Face.Status.CONFIRMED
    )
    face = library.first("people/barack_obama/barack_obama_2.jpg")

    recognition.faces_recognize(face_ids=[face.pk])

    face.refresh_from_db()
    assert face.person_id != obama.pk


def test_suggestion_queries_use_the_hnsw_indexes(library):
    face = library.first("people/barack_obama/barack_obama_1.jpg")
    # The site's own search (every vector query orders through it).
    confirmed_faces = Face.objects.filter(status=Face.Status.CONFIRMED)
    to = face.embedding
    confirmed = vectors.nearest_first(confirmed_faces, model_name="Dlib", to=to, confirmed=True)[:10]
    near = vectors.nearest_first(Face.objects.all(), model_name="Dlib", to=to)[:10]
    with transaction.atomic():
        with connection.cursor() as cursor:
            forbid_scans_and_sorts(cursor)
        confirmed_plan, near_plan = confirmed.explain(), near.explain()

    assert "face_confirmed_dlib_hnsw" in confirmed_plan
    assert "face_embedding_dlib_hnsw" in near_plan


def test_a_few_confirmed_faces_among_many_are_still_found(member):
    """A filter that keeps few rows would starve a filtered approximate search."""
    rng = np.random.default_rng(5)
    album = Album.objects.create(owner=member, title="Crowd")
    photo = Photo.objects.create(album=album, uploaded_by=member, content_hash="c" * 64, display_name="c.jpg")
    vectors = rng.normal(size=(3000, 128))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    Face.objects.bulk_create(
        Face(photo=photo, x=0.1, y=0.1, w=0.1, h=0.1, model_name="Dlib", embedding=v.tolist())
        for v in vectors
    )
    person = Person.objects.create(name="Rare")
    far = Face.objects.create(
        photo=photo,
        x=0.5,
        y=0.5,
        w=0.1,
        h=0.1,
        model_name="Dlib",
        embedding=(-vectors[0]).tolist(),
        person=person,
        status=Face.Status.CONFIRMED,
    )

    found = selectors.faces_confirmed_near(
        embedding=vectors[0].tolist(), model_name="Dlib", limit=5, seen_by=photo.album.owner
    )

    assert [n.face_id for n in found] == [far.pk]


def test_a_face_near_one_member_of_a_group_but_far_from_its_centre_does_not_join_it(member, settings):
    settings.FACE_CLUSTER_MAX_DISTANCE, settings.FACE_MATCH_THRESHOLD = 0.075, 0.09
    # A group at 0, 10 and 20 degrees (centre at 10). The edge face is 20
    # degrees (0.060) from the group's edge member, within the grouping distance,
    # but 30 degrees (0.134) from its centre and from every other member: a
    # look-alike reached by chaining.
    a1, a2, a3, edge, central = faces_at(member, [0, 10, 20, 40, 12])
    with transaction.atomic():
        assert recognition.face_group(face=a1)
    group = {f.person_id for f in Face.objects.filter(pk__in=[a1.pk, a2.pk, a3.pk])}
    assert len(group) == 1 and None not in group

    with transaction.atomic():
        joined = recognition.face_group(face=Face.objects.get(pk=edge.pk))
        recognition.face_group(face=Face.objects.get(pk=central.pk))

    edge.refresh_from_db()
    central.refresh_from_db()
    assert joined is False
    assert (edge.person_id, edge.status) == (None, Face.Status.UNASSIGNED)
    assert central.person_id in group and central.status == Face.Status.SUGGESTED


def test_two_unnamed_groups_whose_centres_come_close_merge(member, settings):
    # Two pairs 21 degrees apart (0.066 between centres) that formed apart (as
    # under a stricter distance), then a face between them near both centres.
    left, left_two, right, right_two = faces_at(member, [0, 3, 21, 24])
    settings.FACE_CLUSTER_MAX_DISTANCE, settings.FACE_MATCH_THRESHOLD = 0.02, 0.09
    with transaction.atomic():
        recognition.face_group(face=left)
        recognition.face_group(face=Face.objects.get(pk=right.pk))
    groups_before = {
        f.person_id for f in Face.objects.filter(pk__in=[left.pk, left_two.pk, right.pk, right_two.pk])
    }

    settings.FACE_CLUSTER_MAX_DISTANCE = 0.075
    (between,) = faces_at(member, [12])
    with transaction.atomic():
        recognition.face_group(face=between)

    groups_after = {
        f.person_id
        for f in Face.objects.filter(pk__in=[left.pk, left_two.pk, right.pk, right_two.pk, between.pk])
    }
    assert len(groups_before) == 2 and None not in groups_before
    assert len(groups_after) == 1 and None not in groups_after
    # The group merged away holds no face, and is gone (not left as an empty "Unnamed").
    assert set(Person.objects.filter(pk__in=groups_before).values_list("pk", flat=True)) == groups_after


def test_a_group_a_suggestion_emptied_is_deleted(member, settings):
    settings.FACE_CLUSTER_MAX_DISTANCE, settings.FACE_MATCH_THRESHOLD = 0.075, 0.09
    grouped, other = faces_at(member, [0, 3])
    with transaction.atomic():
        assert recognition.face_group(face=grouped)
    group = Face.objects.get(pk=grouped.pk).person_id
    # Both faces of the group turn out to be Ann's, tagged elsewhere (as an import
    # or a merge would leave them, with no refresh): recognition suggests Ann for each.
    ann = Person.objects.create(name="Ann")
    Face.objects.filter(pk__in=[f.pk for f in faces_at(member, [1, 2])]).confirm(ann)

    recognition.faces_recognize(face_ids=[grouped.pk, other.pk])

    assert set(Face.objects.filter(pk__in=[grouped.pk, other.pk]).values_list("person_id", flat=True)) == {
        ann.pk
    }
    assert not Person.objects.filter(pk=group).exists()
