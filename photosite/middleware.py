"""Content Security Policy. Django 5.2 has no built-in CSP, and the policy is
one header: a small middleware is clearer than another dependency."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

# The site's pages load only their own scripts, styles and images; no inline
# script or style attribute anywhere (face boxes are SVG attributes).
SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Django's admin templates carry inline style attributes.
ADMIN_POLICY = SITE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _store_origin() -> str | None:
    """The media store's origin when images are redirected there (signed URLs):
    a redirected image is checked against img-src too."""
    options = settings.STORAGES["default"].get("OPTIONS", {})
    if not (settings.S3_MEDIA_REDIRECT and "bucket_name" in options):
        return None
    endpoint = settings.S3_PUBLIC_ENDPOINT_URL or options.get("endpoint_url")
    parts = urlsplit(endpoint or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        origin = _store_origin()
        extra = f" {origin}" if origin else ""
        self.site_policy = SITE_POLICY.replace("img-src 'self'", f"img-src 'self'{extra}")
        self.admin_policy = ADMIN_POLICY.replace("img-src 'self'", f"img-src 'self'{extra}")

    def __call__(self, request):
        response = self.get_response(request)
        admin_prefix = "/" + settings.ADMIN_URL
        policy = self.admin_policy if request.path.startswith(admin_prefix) else self.site_policy
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


class SecureCookiesOverHttpsMiddleware:
    """Mark every cookie Secure on a request that came over HTTPS.

    With ``HTTPS`` off the site must work on plain http://127.0.0.1:8000/, so
    the cookie settings cannot say Secure; behind a TLS proxy (its
    X-Forwarded-Proto says https) the cookies still never travel in clear.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response


class DatabaseUnavailableMiddleware:
    """Answer 503 when the database cannot be reached or no pooled connection
    came in time (PostgreSQL restarting, every connection busy).

    The upload page asked for JSON and gets a plain JSON error it can show next
    to the file; a page gets the site's own 503 page. Either says to try again,
    which is true: nothing was saved by a request that could not reach the
    database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # Not logged here: Django logs the 503 (django.request), and the
        # connection error itself was logged where it happened (psycopg.pool).
        message = "the site cannot reach its database just now; try again in a moment"
        if request.headers.get("Accept", "").startswith("application/json"):
            response = JsonResponse({"error": message}, status=503)
        else:
            # Rendered without the request: its context would look up the
            # logged-in user, in the database that is not there.
            response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
        response["Retry-After"] = "5"
        return response
