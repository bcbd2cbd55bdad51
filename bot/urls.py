"""URLs fit to print: no user name, password or query string, whatever the URL holds.

Pure string work that never raises, so that even a URL too broken to use can be named in the
message that says it is broken.
"""

from __future__ import annotations

import re

# scheme://user:password@ anywhere in a text (git's stderr quotes remote URLs this way).
_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]*@")


def shown_url(url: str) -> str:
    """``url`` as scheme://host[:port]/path: without credentials, query or fragment."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return without_credentials(url)
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path}"


def without_credentials(text: str) -> str:
    """``text`` with the user:password part of every URL in it left out."""
    return _CREDENTIALS.sub(lambda match: match.group("scheme"), text)
