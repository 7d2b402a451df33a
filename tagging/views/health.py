from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tagging.services.health import health_report


@require_GET
@never_cache
def healthz(request):
    """For monitors and compose: 200 when the database, the broker and a worker
    are all well, else 503; either way the JSON names each part's state.
    No login: it tells nothing about anyone's photos."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
