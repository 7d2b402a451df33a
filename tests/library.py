"""The shared photographs loaded as photos and faces, fast: faces are found once
per test session (the ``detections`` fixture in conftest) and written as rows."""

import hashlib

from django.core.files.base import ContentFile

from tagging.models import Album, Face, Photo


class Library:
    """The fixtures loaded as photos and faces, with the truth about the largest faces."""

    def __init__(self, owner, detections):
        self.owner = owner
        # Shared with all members, so staff may curate it as well (private is the owner's alone).
        album = Album.objects.create(owner=owner, title="All", visibility=Album.Visibility.MEMBERS)
        self.faces: dict[str, list[Face]] = {}
        self.truth: dict[int, str] = {}  # face id -> person, for faces whose person is known
        for name, ((width, height), found, people) in detections.items():
            photo = Photo.objects.create(
                album=album,
                uploaded_by=owner,
                display_name=name,
                status=Photo.Status.DONE,
                content_hash=hashlib.sha256(name.encode()).hexdigest(),
                width=width,
                height=height,
            )
            rows = Face.objects.bulk_create(
                Face(
                    photo=photo,
                    x=f.x / width,
                    y=f.y / height,
                    w=f.w / width,
                    h=f.h / height,
                    embedding=f.embedding.tolist(),
                    model_name="Dlib",
                )
                for f in found
            )
            self.faces[name] = rows
            if len(people) == 1:
                self.truth[rows[0].pk] = people[0]

    def first(self, name: str) -> Face:
        return Face.objects.get(pk=self.faces[name][0].pk)

    def all_ids(self) -> list[int]:
        return [face.pk for rows in self.faces.values() for face in rows]


def processed_photo(album: Album, faces_dir, name: str) -> Photo:
    """One shared photograph through the real pipeline and recognition, as a worker would."""
    from tagging.services import pipeline, recognition

    photo = Photo(
        album=album, uploaded_by=album.owner, display_name=name, content_hash=name.ljust(64, "0")[-64:]
    )
    photo.original.save("x", ContentFile((faces_dir / name).read_bytes()), save=False)
    photo.save()
    pipeline.photo_process(photo_id=photo.pk)
    recognition.photo_recognize(photo_id=photo.pk)
    photo.refresh_from_db()
    return photo
