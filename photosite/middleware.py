"""Content Security Policy. Django 5.2 has no built-in CSP, and the policy is
one header: a small middleware is clearer than another dependency."""

from urllib.parse import urlsplit

from django.conf import settings

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
