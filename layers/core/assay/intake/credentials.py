"""Credentials for private git repositories: used for the clone, never written down.

A URL's user information (`https://user:secret@host/...`) is split off where a target enters
Assay (the CLI, the API); what is stored, shown, logged and reported is the URL without it. The
credential reaches git only through its environment (an `http.extraHeader`), never its argv.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote

from pydantic import SecretStr

# scheme://userinfo@ anywhere in a text: in a URL, a git error, a log line.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s@]+)@")
# A token alone is sent as the password of this user (GitHub's convention; GitLab and Gitea
# accept any user with a token as password).
TOKEN_USER = "x-access-token"  # noqa: S105 - a user name, not a secret


def redact(text: str) -> str:
    """`text` with every URL's user information replaced by ***."""
    return _USERINFO.sub(r"\1***@", text)


# A host name (urls.py checks hosts with it too); host[:port] is a name or an IPv6 literal in
# brackets, with an optional port.
HOSTNAME = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"^(\[[0-9A-Fa-f:.]+\]|{HOSTNAME})(:[0-9]{{1,5}})?$")


def split_credentials(target: str) -> tuple[str, SecretStr | None]:
    """(the target without user information, the user information) for a URL target; other
    targets come back as they are.

    Read by hand, not with urlsplit: people paste passwords with `#`, `?` or `/` unencoded, which
    urlsplit would read as the fragment, the query or the path, leaving the password in what is
    stored. The user information ends at the first `@` followed by a host."""
    scheme, sep, rest = target.partition("://")
    if not sep or "@" not in rest:
        return target, None
    if _HOST.match(rest.split("/", 1)[0]):
        return target, None  # the authority is a plain host: any `@` is in the path
    start = 0
    while (at := rest.find("@", start)) != -1:
        host = rest[at + 1 :].split("/", 1)[0]
        if _HOST.match(host):
            userinfo = rest[:at]
            clean = f"{scheme}://{rest[at + 1 :]}"
            return clean, SecretStr(unquote(userinfo)) if userinfo else None
        start = at + 1
    return target, None


def authorization_header(credential: SecretStr) -> str:
    """`user:password` (or a token alone) as an HTTP Basic Authorization header."""
    user, colon, password = credential.get_secret_value().partition(":")
    pair = f"{user}:{password}" if colon else f"{TOKEN_USER}:{user}"
    return "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
