from django.core.management.base import BaseCommand

from tagging.services.privacy import embeddings_delete_all


class Command(BaseCommand):
    help = (
        "Delete every face embedding. Use with FACE_RECOGNITION_ENABLED=0 to switch recognition off for good."
    )

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, yes: bool, **options):
        if not yes and input("Delete every face embedding? Type 'yes': ").strip() != "yes":
            self.stdout.write("Nothing deleted.")
            return
        self.stdout.write(f"Deleted {embeddings_delete_all()} embeddings.")
