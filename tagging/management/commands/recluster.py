"""Re-run grouping of unknown faces from scratch."""

from django.core.management.base import BaseCommand

from tagging.services.recognition import recluster


class Command(BaseCommand):
    help = "Dissolve the unnamed groups and group unknown faces again. Confirmed tags are never touched."

    def add_arguments(self, parser):
        parser.add_argument("--model", default=None, help="face model (default: FACE_MODEL)")

    def handle(self, *args, model, **options):
        groups = recluster(model_name=model)
        self.stdout.write(f"{groups} unnamed groups")
