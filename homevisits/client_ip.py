"""The address a request really came from, behind a known number of trusted reverse proxies.

django-axes locks a username and address together, so the address must be one that a stranger
cannot choose. Each proxy appends the address it received the request from to
X-Forwarded-For. With N trusted proxies, the Nth entry from the right was written by the first
of them, the one the client connected to: everything to its left came from the client and may
be invented. With no proxy (N = 0) the header is ignored and the TCP peer (REMOTE_ADDR) is used.
"""

import ipaddress
import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def client_ip_address(request) -> str | None:
    """For AXES_CLIENT_IP_CALLABLE. Reads TRUSTED_PROXY_COUNT on every request."""
    peer = request.META.get("REMOTE_ADDR")
    proxy_count = settings.TRUSTED_PROXY_COUNT
    if proxy_count <= 0:
        return peer
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if len(forwarded) < proxy_count:
        # The request did not come through every proxy we were told of: the peer is all we know.
        logger.warning(
            "X-Forwarded-For has %d address(es) but TRUSTED_PROXY_COUNT is %d; using REMOTE_ADDR.",
            len(forwarded),
            proxy_count,
        )
        return peer
    candidate = forwarded[-proxy_count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        logger.warning("X-Forwarded-For entry %r is not an address; using REMOTE_ADDR.", candidate)
        return peer
