"""The client's address, as login throttling (django-axes) keys on it.

Behind a reverse proxy every request comes from the proxy's address, and a
lock on it would lock out every member at once. The proxy appends the address
it saw to ``X-Forwarded-For``; everything to the left of that came from the
client and may be forged. So with ``TRUSTED_PROXY_COUNT`` proxies in front
(1 in the compose file: nginx), the address is the entry that many places
from the right, and with none (the embedded default, served directly) the
header is ignored altogether.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        # Not through all the proxies the site was told of: the address that connected.
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
