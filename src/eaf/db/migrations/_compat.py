"""Expand/contract: what a revision may do while the previous release still runs.

During a rolling upgrade the new schema serves both releases. An expand
revision only adds; anything that could break the previous release's reads or
writes belongs in a later contract revision, which says so with a module-level
``contract`` string naming what it removes and why that is safe now.
See docs/migrations.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTRACT_MARKER = "contract"

_DOLLAR_QUOTED = re.compile(r"\$(\w*)\$.*?\$\1\$", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'")
_LINE_COMMENT = re.compile(r"--[^\n]*")
_IDENT = r"(?:\"[^\"]+\"|[\w.]+)"

# Incompatible wherever they appear, even on tables of the same revision: a
# revision that needs them on its own new tables can write them differently.
_ALWAYS = (
    (r"\bDROP\b", "drops or relaxes something the previous release relies on"),
    (r"\bRENAME\b", "renames something the previous release names"),
    (
        r"\bALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET\s+DATA\s+)?TYPE\b",
        "changes a type the previous release reads or writes",
    ),
    (r"\bSET\s+NOT\s+NULL\b", "makes the previous release's inserts fail"),
    (r"\bTRUNCATE\b", "deletes rows the previous release reads"),
    (r"\bDELETE\s+FROM\b", "deletes rows the previous release reads"),
)

# Incompatible only on tables that existed before the revision.
_ON_EXISTING = (
    (
        r"\bADD\s+(?:CONSTRAINT|CHECK|FOREIGN|UNIQUE|PRIMARY|EXCLUDE)\b",
        "a new constraint can reject rows the previous release writes",
    ),
    (
        r"\bROW\s+LEVEL\s+SECURITY\b",
        "row-level security hides rows from the previous release",
    ),
    (r"^REVOKE\b", "takes away a privilege the previous release uses"),
)

_CREATE = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNLOGGED\s+)?"
    r"(?:TABLE|FUNCTION|SEQUENCE|VIEW|TYPE)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_IDENT})",
    re.IGNORECASE,
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_IDENT})\s+(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_UNIQUE_INDEX = re.compile(
    rf"^CREATE\s+UNIQUE\s+INDEX\b.*?\bON\s+(?:ONLY\s+)?({_IDENT})",
    re.IGNORECASE | re.DOTALL,
)
_POLICY = re.compile(rf"^CREATE\s+POLICY\s+{_IDENT}\s+ON\s+({_IDENT})", re.IGNORECASE)
_REVOKE = re.compile(
    rf"^REVOKE\b.*?\bON\s+(?:TABLE\s+|FUNCTION\s+|SEQUENCE\s+)?({_IDENT})",
    re.IGNORECASE,
)
_ADD_COLUMN = re.compile(r"^ADD\s+(?:COLUMN\s+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Breach:
    """One statement of a revision that the previous release may not survive."""

    statement: str
    reason: str


def statements_of(script: str) -> list[str]:
    """The statements of an SQL script, without comments, strings and bodies.

    Function bodies and literals are blanked out: what a function does or what
    a default says is not a schema change the previous release sees.
    """
    text = _DOLLAR_QUOTED.sub("$$ $$", script)
    text = _STRING.sub("''", text)
    text = _LINE_COMMENT.sub("", text)
    statements = (" ".join(part.split()) for part in text.split(";"))
    return [statement for statement in statements if statement]


def breaches_in(script: str) -> list[Breach]:
    """Every statement of ``script`` that is not safe for an expand revision."""
    created: set[str] = set()
    breaches: list[Breach] = []
    for statement in statements_of(script):
        if "alembic_version" in statement or statement.upper() in ("BEGIN", "COMMIT"):
            continue
        if match := _CREATE.match(statement):
            created.add(_name(match.group(1)))
            continue
        reason = _breach_reason(statement, created)
        if reason is not None:
            breaches.append(Breach(statement, reason))
    return breaches


def _breach_reason(statement: str, created: set[str]) -> str | None:
    for pattern, reason in _ALWAYS:
        if re.search(pattern, statement, re.IGNORECASE):
            return reason
    table = _target(statement)
    if table is None or table in created:
        return None
    if _UNIQUE_INDEX.match(statement):
        return "a unique index can reject rows the previous release writes"
    if _POLICY.match(statement):
        return "a new policy can hide or refuse the previous release's rows"
    for pattern, reason in _ON_EXISTING:
        if re.search(pattern, statement, re.IGNORECASE):
            return reason
    if (alter := _ALTER_TABLE.match(statement)) is not None:
        return _added_column_reason(alter.group(2))
    return None


def _target(statement: str) -> str | None:
    for pattern in (_ALTER_TABLE, _UNIQUE_INDEX, _POLICY, _REVOKE):
        if match := pattern.match(statement):
            return _name(match.group(1))
    return None


def _added_column_reason(actions: str) -> str | None:
    for action in _top_level_parts(actions):
        if not _ADD_COLUMN.match(action) or re.match(
            r"^ADD\s+(?:CONSTRAINT|CHECK|FOREIGN|UNIQUE|PRIMARY|EXCLUDE)\b",
            action,
            re.IGNORECASE,
        ):
            continue
        upper = action.upper()
        if re.search(r"\bNOT\s+NULL\b", upper) and not re.search(
            r"\b(?:DEFAULT|GENERATED)\b", upper
        ):
            return "a NOT NULL column without a default fails old inserts"
        if re.search(r"\b(?:REFERENCES|CHECK|UNIQUE|PRIMARY)\b", upper):
            return "a column constraint can reject rows the previous release writes"
    return None


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def _name(identifier: str) -> str:
    """A table name without schema or quotes, lowercased as PostgreSQL folds it."""
    bare = identifier.rsplit(".", 1)[-1]
    return bare.strip('"') if bare.startswith('"') else bare.lower()
