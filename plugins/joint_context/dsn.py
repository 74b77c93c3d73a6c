"""libpq connection strings and URIs given on the command line: checked by their structure, never printed.

A DSN may hold a password, so nothing the user typed is echoed: not the raw text, not any part of a URI's user
info (however it parses), not libpq's parse errors (which quote the fragment they choke on). A URI whose user
info is ambiguous (an unencoded ``@`` or ``/`` in the password) is refused before libpq reads it, because libpq
would otherwise take part of the password for the host and print it in "failed to resolve host ...".
Messages of a failed connection are passed on with the user name masked; libpq never puts the password of a
well-formed DSN in them. No Airflow import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MASK = "***"
URI_SCHEMES = ("postgresql://", "postgres://")
NOT_SHOWN = "its value is not shown: it may hold a password"
_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class DsnError(ValueError):
    """A DSN that cannot be used as given; the message names its option or variable, never its content."""


@dataclass(frozen=True)
class Dsn:
    """A checked libpq DSN. ``str()`` and ``repr()`` name where it came from, never what it holds.

    :param text: the DSN as given (only ever handed to the driver).
    :param source: the option or environment variable it came from, e.g. ``--historical-dsn``.
    :param dbname: the database it names, if any (a label for messages).
    :param user: the user name it names, masked in the driver's messages.
    """

    text: str = field(repr=False)
    source: str
    dbname: str | None = None
    user: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"the DSN of {self.source}"


def parse_dsn(text: str, source: str) -> Dsn:
    """Check ``text`` (from ``source``) and read its database and user; :class:`DsnError` if it cannot be used."""
    if not text.strip():
        raise DsnError(f"{source} is empty")
    problem = uri_user_info_problem(text)
    if problem:
        raise DsnError(f"{source}: {problem} ({NOT_SHOWN})")
    from joint_context.connections import dsn_parts

    try:
        parts = dsn_parts(text)
    except UnicodeError:  # its message would quote the bytes, part of the password perhaps
        raise DsnError(f"{source}: a %XX escape in it decodes to bytes that are not UTF-8 text ({NOT_SHOWN})"
                       ) from None
    except Exception as error:
        if type(error).__module__.split(".")[0] not in ("psycopg", "psycopg2"):
            raise
        raise DsnError(
            f"{source} is not a libpq connection string (host=... dbname=...) or URI (postgresql://...): "
            f"{NOT_SHOWN}. Put values holding spaces or quotes in single quotes; in a URI percent-encode "
            "reserved characters of the user name and password"
        ) from None
    return Dsn(text=text, source=source, dbname=parts.get("dbname") or None, user=parts.get("user") or None)


def uri_user_info_problem(text: str) -> str | None:
    """Why a URI's user info would not be read as the user meant it, or ``None`` (also for key=value strings).

    libpq takes the user info up to the first ``@`` before any ``/``; any other ``@`` left in the URI means the
    password (or the user name) held an unencoded ``@`` or ``/``, and libpq would read part of it as the host.
    """
    scheme = next((prefix for prefix in URI_SCHEMES if text.startswith(prefix)), None)
    if scheme is None:
        return None
    rest = text[len(scheme):]
    stop = re.search(r"[@/]", rest)
    user_info, after = ("", rest)
    if stop is not None and stop.group() == "@":
        user_info, after = rest[:stop.start()], rest[stop.end():]
    if "@" in after:
        return ("the URI holds an '@' outside its user info, so its password or user name is ambiguous: "
                "percent-encode '@' as %40 and '/' as %2F in them")
    if _PERCENT_ESCAPE.search(user_info):
        return "the URI's user info holds a '%' that does not start a %XX escape: write '%' as %25"
    return None


def scrub(message: str, dsns: Iterable[Dsn]) -> str:
    """A driver's message with nothing of the DSNs' user info in it: their text and their quoted user names.

    The structure decides what goes, not a search for the password's text: libpq quotes names (``user "bob"``),
    while replacing every occurrence of a one-letter password would spell it out in every word it masks.
    """
    for dsn in dsns:
        message = message.replace(dsn.text, MASK)
        if dsn.user:
            message = message.replace(f'"{dsn.user}"', f'"{MASK}"').replace(f"'{dsn.user}'", f"'{MASK}'")
    return message
