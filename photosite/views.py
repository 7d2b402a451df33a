from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import JsonResponse
from django.views import defaults


def bad_request(request, exception):
    """Django refuses a request with too many files before any view runs (the CSRF
    check reads the form). The upload page asked for JSON: answer it in JSON."""
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    if isinstance(exception, TooManyFilesSent) and wants_json:
        limit = settings.UPLOAD_MAX_FILES_PER_REQUEST
        return JsonResponse({"error": f"too many files in one request; the limit is {limit}"}, status=400)
    return defaults.bad_request(request, exception)
