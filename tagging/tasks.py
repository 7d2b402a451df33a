"""Celery tasks: thin wrappers that take ids and call services.

Every task is idempotent, so late acknowledgement (a message delivered again
after a worker died) is safe.
"""

import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from tagging import files, storage
from tagging.faces.weights import WeightsMissing
from tagging.models import Photo
from tagging.services import detection, health, pipeline, privacy, recognition, undo

logger = logging.getLogger(__name__)


# A photo's two tasks retry what says nothing about the photo (the database,
# broker or store away for a moment) with backoff: 5, 10, 20 ... s, at most 5 times.
_PHOTO_RETRIES = {
    "autoretry_for": pipeline.TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(bind=True, **_PHOTO_RETRIES)
def process_photo(self, photo_id: int) -> None:
    photo = pipeline.photo_process(photo_id=photo_id, token=self.request.id)
    if photo is not None and photo.status == Photo.Status.DONE and settings.FACE_RECOGNITION_ENABLED:
        # If this send fails, the nightly grouping pass recognises the faces.
        recognize_photo.delay(photo_id)


@shared_task(**_PHOTO_RETRIES)
def recognize_photo(photo_id: int) -> None:
    recognition.photo_recognize(photo_id=photo_id)


@shared_task(
    autoretry_for=(storage.StoreUnavailable,),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=30,
)
def delete_files(names: list[str]) -> None:
    """Files whose rows are gone, left when the media store was down."""
    files.files_delete(names, later=False)


@shared_task(ignore_result=False)
def face_probe(packed: str) -> list[float] | None:
    """Find-by-face's dropped photo: the embedding of its largest face. Runs on a
    worker, so web processes never load the models; the page waits for the answer."""
    return detection.probe_embedding(packed)


@shared_task
def sweep_photos(pending_grace: int | None = None) -> None:
    swept = pipeline.photos_sweep(pending_grace=pending_grace)
    if swept.requeued or swept.failed:
        logger.info("sweep: %d photos sent again, %d failed for good", len(swept.requeued), len(swept.failed))


@shared_task
def prune_heartbeats() -> None:
    health.heartbeats_prune()


@shared_task
def group_pending_faces() -> None:
    recognition.faces_group_pending()


@shared_task
def expire_embeddings() -> None:
    privacy.embeddings_expire()


@shared_task
def purge_deleted() -> None:
    """Photos deleted longer ago than the undo period go for good, with their files."""
    purged = undo.expired_purge()
    if purged:
        logger.info("purged %d deleted photos", purged)


@worker_process_init.connect
def _load_models(**kwargs) -> None:
    """Load the face models once per worker process, before the first photo."""
    if not settings.FACE_RECOGNITION_ENABLED:
        return
    try:
        detection.models_load()
    except WeightsMissing as error:
        # A process that died here would be restarted, and die again, forever.
        # Alive, it fails each photo with this message (after its attempts),
        # and `manage.py reprocess --failed` picks them up once the file is there.
        logger.error("face models not loaded: %s", error)
