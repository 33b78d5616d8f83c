"""Keep secrets off the screen, out of logs, the audit file and recordings.

Command lines and connection strings are untrusted text that may carry passwords
(`postgresql://app:s3cret@db/x`, `--password=s3cret`, `PGPASSWORD=s3cret cmd`). Everything
perftop writes to the audit file passes through `redact`; panes use it for connection
strings.

One rule wherever text is shortened: mask the whole text, then shorten (`redact_short`).
Cutting first can split a secret from what makes it recognisable (the `@` after a URL's
password, the closing quote of a value), and the prefix left behind is no longer masked.

Text that someone else already cut (pg_stat_activity stops at track_activity_query_size) is
handled too: a URL whose text ends inside its authority (`postgresql://app:s3c`) has the
part after `user:` masked, since a password cut before its `@` cannot be told from a whole
one. The one exception is digits alone there, which read as a port (`http://host:8000`);
with `cut=True` (the text may have been cut) they are masked as well. A quoted value that
never closes (`password='s3c`) is masked to the end.
"""

from __future__ import annotations

import re

MASK = "****"
ELLIPSIS = "…"

# user:password@ in any URL-like string (postgresql://, mysql://, redis://, http://).
# The password runs to the authority's last `@`, since passwords may contain `@` themselves.
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^\s/?#]*(?=@[^@\s/?#]*(?:[/?#\s]|$))"
)
# The same URL when the text ends inside the authority, before any `@`: `user:` is followed
# by the start of a password (or a port: only digits).
_URL_CUT = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s\[]*:)(?P<value>[^\s/?#@]+)\Z")
# password=..., passwd=..., pwd=..., secret=..., token=..., also with --, as options or
# key=value pairs in a libpq connection string. The value runs to the next space, or to its
# closing quote (to the end of the text when the quote never comes: the text was cut). A SQL
# placeholder (`token = $1`) holds no value and is left as it is.
_KEY_VALUE = re.compile(
    r"(?P<head>(?:--?|\b)[a-z0-9_]*(?:password|passwd|pwd|secret|token|api[_-]?key)(?:_[a-z0-9]+)*"
    r"\s*[=:]\s*)(?P<value>'[^']*(?:'|\Z)|\"[^\"]*(?:\"|\Z)|(?!\$\d+(?![^\s,;)]))\S+)",
    re.IGNORECASE,
)
# `--password value`, `-p value` is too ambiguous (ports, paths), so only the long forms.
_LONG_OPTION = re.compile(
    r"(?P<head>--(?:password|passwd|secret|token|api-key)\s+)"
    r"(?P<value>'[^']*(?:'|\Z)|\"[^\"]*(?:\"|\Z)|\S+)",
    re.IGNORECASE,
)


def redact(text: str, cut: bool = False) -> str:
    """`text` with password-like values replaced by ****.

    `cut`: the text may have been cut short by someone else, so digits after `user:` at its
    very end may be the start of a password rather than a port."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _URL_CUT.sub(
        lambda m: m.group(0) if m["value"].isdigit() and not cut else m["head"] + MASK, text
    )
    text = _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)
    return _LONG_OPTION.sub(lambda m: m.group("head") + MASK, text)


def redact_short(text: str, limit: int) -> str:
    """`text` masked whole, then shortened to at most `limit` characters (… marks a cut)."""
    text = redact(text)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS
