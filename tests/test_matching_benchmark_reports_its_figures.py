"""``manage.py benchmark matching`` on a small synthetic library."""

import json
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from devtools.benchmarks.matching.recognize import _wrong_names
from devtools.management.commands.benchmark import Command
from tagging.models import Album, Face, Person, Photo

# The benchmark creates and drops a scratch database of its own, which cannot
# happen inside the transaction that wraps an ordinary django_db test.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def report(django_db_setup, django_db_blocker) -> dict:
    """One run shared by the tests below: it takes about ten seconds."""
    out = StringIO()
    with django_db_blocker.unblock():
        call_command("benchmark", "matching", "--faces", "3000", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_it_reports_the_figures_of_the_issue(report):
    assert report["faces"] == 3000
    assert report["build_seconds"] > 0
    assert 0 < report["knn_p50_ms"] <= report["knn_p95_ms"]
    assert 0.95 <= report["recall_at_10"] <= 1
    assert report["recognize_1000_seconds"] > 0


def test_its_embeddings_are_spread_like_dlib_faces(report):
    assert 0.02 < report["same_identity_median"] < 0.06
    assert 0.12 < report["different_identity_median"] < 0.3


def test_its_nearest_neighbour_query_uses_the_hnsw_index(report):
    assert report["knn_uses_index"]
    # The ground truth (numpy) agrees with PostgreSQL's own exact search.
    assert report["exact_check"] == 1


def test_it_recognises_known_people_without_wrong_suggestions(report):
    assert report["named_right"] > 0
    assert report["named_wrong"] == report["grouped_wrong"] == report["ungrouped_wrong"] == 0
    assert report["recognize_wrong_names"] == 0


def test_two_processes_recognise_a_second_batch_at_once_and_as_well(report):
    assert report["recognize_workers"] == 2 and report["recognize_1000_seconds_workers"] > 0
    concurrent = report["recognize_workers_outcome"]
    assert sum(concurrent.values()) == 1000
    assert concurrent["named_right"] > 0
    assert concurrent["named_wrong"] == concurrent["grouped_wrong"] == concurrent["ungrouped_wrong"] == 0
    assert report["recognize_workers_wrong_names"] == 0


def test_it_leaves_the_test_database_alone(report):
    assert connection.settings_dict["NAME"].startswith("test_")
    assert not Face.objects.exists()


def test_it_prints_one_json_object_with_the_keys_of_the_issue(report):
    # The fixture parsed the whole output as one JSON object: nothing else was printed.
    assert set(report) >= {
        "faces",
        "build_seconds",
        "knn_p50_ms",
        "knn_p95_ms",
        "recall_at_10",
        "recognize_1000_seconds",
        "recognize_queries_per_face",
        "recognize_1000_seconds_workers",
        "index_mb",
        "pgvector",
        "halfvec",
        "iterative_scans",
    }


def test_it_builds_with_the_hnsw_parameters_it_is_given(django_db_blocker):
    out = StringIO()
    with django_db_blocker.unblock():
        call_command(
            "benchmark",
            "matching",
            "--faces",
            "1000",
            "--m",
            "8",
            "--ef-construction",
            "32",
            "--compare",
            "8,16",
            "--json",
            stdout=out,
        )
    report = json.loads(out.getvalue())
    built = {key for key in report["index_sizes_mb"]}
    assert built == {"face_embedding_dlib_hnsw", "face_confirmed_dlib_hnsw"}
    assert report["hnsw"] == {"m": 8, "ef_construction": 32}
    # The side-by-side measurement of another graph on the same faces.
    compared = report["graph_comparison"]
    expected = {"model": (8, 32, "vector"), "against": (8, 16, "vector")}
    if report["halfvec"]:
        # The model's graph again, stored in 2 bytes a dimension (pgvector 0.7+).
        expected["model_halfvec"] = (8, 32, "halfvec")
        assert compared["model_halfvec"]["index_mb"] < compared["model"]["index_mb"]
    assert {
        key: (graph["m"], graph["ef_construction"], graph["type"]) for key, graph in compared.items()
    } == expected
    for graph in compared.values():
        assert graph["build_seconds"] > 0 and graph["index_mb"] > 0
        for figures in graph["ef_search"].values():
            assert 0.5 < figures["recall_at_10"] <= 1
            assert 0 < figures["knn_p50_ms"] <= figures["knn_p95_ms"]


def test_it_refuses_a_library_smaller_than_its_queries():
    with pytest.raises(CommandError, match="at least 1000 faces"):
        call_command("benchmark", "matching", "--faces", "10")


def test_the_pipeline_benchmark_takes_a_path():
    parser = Command().create_parser("manage.py", "benchmark")
    options = parser.parse_args(["pipeline", "photos", "--json"])
    assert (options.benchmark, options.path, options.as_json) == ("pipeline", Path("photos"), True)


def test_a_face_given_a_named_person_not_its_own_counts_as_a_wrong_name(member):
    ann, group = Person.objects.create(name="Ann"), Person.objects.create()
    album = Album.objects.create(owner=member, title="wrong names")
    photo = Photo.objects.create(album=album, uploaded_by=member, content_hash="w", width=10, height=10)

    def face(person):
        status = Face.Status.SUGGESTED if person else Face.Status.UNASSIGNED
        return Face.objects.create(photo=photo, x=0, y=0, w=1, h=1, person=person, status=status).pk

    # FaceSpace people 0 (Ann, named) and 1 (an unnamed group); 2 is a newcomer.
    library = SimpleNamespace(person_ids={0: ann.pk, 1: group.pk}, named={0})
    faces = [face(ann), face(ann), face(group), face(ann), face(None)]
    people = np.array([0, 1, 1, 2, 2])
    # Ann's own face is right; the group's face and the newcomer given Ann are wrong
    # names; a face joining an unnamed group is no name at all.
    assert _wrong_names(library, faces, people) == 2
