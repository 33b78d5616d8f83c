"""Keep secrets off the screen, out of logs, the audit file and recordings.

Command lines and connection strings are untrusted text that may carry passwords
(`postgresql://app:s3cret@db/x`, `--password=s3cret`, `PGPASSWORD=s3cret cmd`). Everything
perftop writes to the audit file passes through `redact`; panes use it for connection
strings.
"""

from __future__ import annotations

import re

MASK = "****"

# user:password@ in any URL-like string (postgresql://, mysql://, redis://, http://).
# The password runs to the authority's last `@`, since passwords may contain `@` themselves.
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^\s/?#]*(?=@[^@\s/?#]*(?:[/?#\s]|$))"
)
# password=..., passwd=..., pwd=..., secret=..., token=..., also with --, as options or
# key=value pairs in a libpq connection string. The value runs to the next space.
_KEY_VALUE = re.compile(
    r"(?P<head>(?:--?|\b)[a-z0-9_]*(?:password|passwd|pwd|secret|token|api[_-]?key)(?:_[a-z0-9]+)*"
    r"\s*[=:]\s*)(?P<value>'[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)
# `--password value`, `-p value` is too ambiguous (ports, paths), so only the long forms.
_LONG_OPTION = re.compile(
    r"(?P<head>--(?:password|passwd|secret|token|api-key)\s+)(?P<value>'[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with password-like values replaced by ****."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)
    return _LONG_OPTION.sub(lambda m: m.group("head") + MASK, text)
