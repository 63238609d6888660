"""Which git URLs Assay will fetch, and the addresses it will fetch them from.

https only (http only if the policy allows); no `file://`, `ext::`, scp-style or option-looking
URLs; the host must resolve, and only to public addresses: loopback, private, link-local
(cloud metadata), multicast and reserved ranges are refused, so a URL cannot reach into the
network Assay runs in. The resolved address is pinned for the clone (no second lookup to rebind).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from pydantic import BaseModel

from assay.errors import ValidationFailed
from assay.intake.credentials import HOSTNAME, redact
from assay.intake.policy import IntakePolicy

_HOSTNAME = re.compile(rf"^{HOSTNAME}$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


class GitUrl(BaseModel):
    url: str
    host: str
    port: int
    address: str  # the pinned IP


def looks_like_git_url(target: str) -> bool:
    return "://" in target or target.startswith(("git@", "ext::")) or target.endswith(".git")


def check_git_url(url: str, policy: IntakePolicy) -> GitUrl:
    shown = redact(url)  # errors name the URL without its credentials
    if "::" in url.split("://", 1)[0]:
        raise ValidationFailed(f"refusing git URL {shown!r}: remote helpers are not allowed")
    if url.startswith("-"):
        raise ValidationFailed(f"refusing git URL {shown!r}: it could be read as an option")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationFailed(f"refusing git URL {shown!r}: it contains whitespace or controls")
    parts = urlsplit(url)
    allowed = {"https"} | ({"http"} if policy.allow_http else set())
    if parts.scheme not in allowed:
        raise ValidationFailed(
            f"refusing git URL {shown!r}: only {' and '.join(sorted(allowed))} URLs are fetched",
            fix="use an https:// URL, a local directory or an archive",
        )
    host = parts.hostname or ""
    if not _valid_host(host):
        raise ValidationFailed(f"refusing git URL {shown!r}: the host is missing or malformed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationFailed(f"refusing git URL {shown!r}: bad port") from None
    address = resolve_public(host, port, policy)
    return GitUrl(url=url, host=host, port=port, address=address)


def resolve_public(host: str, port: int, policy: IntakePolicy) -> str:
    """The first address `host` resolves to, refusing non-public ones unless the policy allows."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ValidationFailed(f"cannot resolve the host {host!r}") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not policy.allow_private_hosts and not ip.is_global:
            raise ValidationFailed(
                f"refusing host {host!r}: it resolves to {ip}, which is not a public address"
            )
    return addresses[0]
