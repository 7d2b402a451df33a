"""Measure the site in a scratch database: ``benchmark matching``, ``pipeline PATH``, ``import PATH``
and ``pages``."""

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand

from devtools.benchmarks import matching


def _face_count(value: str) -> int:
    count = int(value)
    # Fewer faces than queries would leave the recall and latency figures meaningless.
    if count < 1000:
        raise argparse.ArgumentTypeError("at least 1000 faces")
    return count


def _graph(value: str) -> tuple[int, int]:
    try:
        m, ef_construction = (int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("M,EF_CONSTRUCTION, e.g. 16,64") from None
    return m, ef_construction


class Command(BaseCommand):
    help = "Benchmarks in a throw-away database on the same server; the site's data is never touched."

    def add_arguments(self, parser):
        benchmarks = parser.add_subparsers(dest="benchmark", required=True)
        matching_parser = benchmarks.add_parser(
            "matching",
            help="HNSW build, nearest-neighbour latency and recall, and recognition of 1,000 new faces "
            "on synthetic Dlib-like embeddings",
        )
        matching_parser.add_argument("--faces", type=_face_count, default=100_000)
        matching_parser.add_argument("--seed", type=int, default=0)
        matching_parser.add_argument("--json", action="store_true", dest="as_json")
        matching_parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="processes that recognise a second batch at once (the site runs 2 workers by default)",
        )
        matching_parser.add_argument("--m", type=int, default=None, help="HNSW m instead of the model's")
        matching_parser.add_argument(
            "--ef-construction", type=int, default=None, help="HNSW ef_construction instead of the model's"
        )
        matching_parser.add_argument(
            "--compare",
            type=_graph,
            default=None,
            metavar="M,EF_CONSTRUCTION",
            help="also measure an HNSW graph with these parameters beside the model's, query by query",
        )
        pipeline_parser = benchmarks.add_parser("pipeline", help="photo processing on a folder of photos")
        pipeline_parser.add_argument("path", type=Path)
        pipeline_parser.add_argument("--json", action="store_true", dest="as_json")
        pipeline_parser.add_argument("--rounds", type=int, default=3, help="best of this many, per photo")
        import_parser = benchmarks.add_parser(
            "import",
            help="upload, processing and recognition of a folder end to end with real worker processes, "
            "with 1 and with N of them",
        )
        import_parser.add_argument("path", type=Path)
        import_parser.add_argument("--workers", type=int, default=2)
        import_parser.add_argument(
            "--megapixels", type=float, default=None, help="re-encode every photo at about this size first"
        )
        import_parser.add_argument(
            "--copies", type=int, default=1, help="upload the folder this many times over (distinct copies)"
        )
        import_parser.add_argument("--json", action="store_true", dest="as_json")
        pages_parser = benchmarks.add_parser(
            "pages", help="album page with many photos and people page with many people: time and queries"
        )
        pages_parser.add_argument("--photos", type=int, default=1000)
        pages_parser.add_argument("--people", type=int, default=1000)
        pages_parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, benchmark: str, as_json: bool, **options):
        if benchmark == "matching":
            matching.run(
                faces=options["faces"],
                as_json=as_json,
                stdout=self.stdout,
                seed=options["seed"],
                m=options["m"],
                ef_construction=options["ef_construction"],
                compare=options["compare"],
                workers=options["workers"],
            )
        elif benchmark == "import":
            from devtools.benchmarks import imports

            imports.run(
                options["path"],
                workers=options["workers"],
                megapixels=options["megapixels"],
                copies=options["copies"],
                as_json=as_json,
                stdout=self.stdout,
            )
        elif benchmark == "pages":
            from devtools.benchmarks import pages

            pages.run(photos=options["photos"], people=options["people"], as_json=as_json, stdout=self.stdout)
        else:
            # Imported here: the matching benchmark must not depend on this module.
            from devtools.benchmarks import pipeline

            pipeline.run(options["path"], stdout=self.stdout, as_json=as_json, rounds=options["rounds"])
