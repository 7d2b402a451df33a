"""Content Security Policy. Django 5.2 has no built-in CSP, and the policy is
one header: a small middleware is clearer than another dependency."""

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


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        admin_prefix = "/" + settings.ADMIN_URL
        policy = ADMIN_POLICY if request.path.startswith(admin_prefix) else SITE_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
