"""The Django storage for media in an S3-compatible bucket (django-storages).

A function rather than a block of settings, so that the tests configure
exactly what the settings do, against the SeaweedFS server they start.
"""

from botocore.config import Config


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    region: str = "us-east-1",
    addressing_style: str = "path",
    signed_url_seconds: int = 60,
    connect_timeout: int = 5,
    read_timeout: int = 30,
    location: str = "",
) -> dict:
    """The ``STORAGES["default"]`` entry for a private bucket.

    Keys left ``None`` fall back to boto3's own lookup (environment, instance
    role), as on AWS.
    """
    return {
        # django-storages' S3Storage without bucket URLs (see its docstring).
        "BACKEND": "tagging.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            # A folder in the bucket for every key (a bucket shared with other uses).
            "location": location,
            "endpoint_url": endpoint_url or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "region_name": region,
            # Never a public-read object: the bucket's policy alone decides,
            # and the bucket is private.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": signed_url_seconds,
            # Names are random (tagging.models._upload_path): checking each
            # one for a clash first would cost a request per file.
            "file_overwrite": True,
            "client_config": Config(
                # Path style: SeaweedFS, MinIO and most self-hosted stores
                # answer on one host name, not one per bucket.
                s3={"addressing_style": addressing_style},
                signature_version="s3v4",
                # A store that is down must fail an upload within seconds, not
                # hang it: the member gets a plain error and tries again.
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        },
    }
