"""What every CLI command shares: settings, output, error handling."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from eaf.errors import EAFError
from eaf.iam.client import ClientSettingError, IamApiError
from eaf.logs import configure_logging
from eaf.settings import Settings, load_settings

console = Console(soft_wrap=True)
# Soft wrap keeps each error on one line however narrow the terminal is.
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

P = ParamSpec("P")
T = TypeVar("T")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where embedded servers keep their data.",
        show_default="./.eaf",
    ),
]


# C0 and C1 controls, DEL, line and paragraph separators, bidi marks,
# embeddings, overrides and isolates: printed raw, a value from the server
# could move the cursor, recolour or rewrite the operator's terminal.
_OTHER_CONTROLS = r"\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]")
_UNSAFE_BUT_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")
# json.dumps escapes C0 controls itself; its newlines are the indentation.
_UNSAFE_IN_JSON = re.compile(rf"[{_OTHER_CONTROLS}]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(value: object, *, keep_lines: bool = False) -> str:
    """``value`` as text a terminal shows as written: controls become escapes.

    ``keep_lines`` leaves newlines and tabs alone, for messages of several
    lines. Rich markup is not escaped here; print the result as ``Text``.
    """
    text = "" if value is None else str(value)
    pattern = _UNSAFE_BUT_LINES if keep_lines else _UNSAFE
    return pattern.sub(_escape_char, text)


def _cell(value: Any) -> Text:
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return Text(safe_text(value))


def show_table(items: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Print ``columns`` of ``items`` as a table, lists joined by commas.

    Every cell goes through ``safe_text`` and is never read as markup.
    """
    table = Table(*columns)
    for item in items:
        table.add_row(*(_cell(item.get(column)) for column in columns))
    console.print(table)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def show_json(value: Any) -> None:
    """Print ``value`` as indented JSON, controls written as ``\\uXXXX``."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    # The other controls can appear only inside strings, where a \uXXXX
    # escape keeps the document valid JSON.
    safe = _UNSAFE_IN_JSON.sub(_json_escape, text)
    console.print(JSONHighlighter()(Text(safe)), soft_wrap=True)


def print_line(text: object) -> None:
    """Print one line of plain text: no markup, controls escaped."""
    console.print(Text(safe_text(text)))


def settings_for(data_dir: Path | None = None, **overrides: Any) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        raise fail(f"invalid settings: {settings_problems(exc)}", 2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def settings_problems(exc: ValidationError) -> str:
    """One line naming each offending ``EAF_*`` variable and what is wrong.

    The rejected values are left out: they may be secrets.
    """
    problems = []
    for error in exc.errors():
        location = error["loc"]
        name = f"EAF_{str(location[0]).upper()}" if location else "settings"
        problems.append(f"{name}: {error['msg']}")
    return "; ".join(problems)


def fail(message: str, code: int = 1, details: Iterable[str] = ()) -> typer.Exit:
    """Print ``message`` (and an indented line per detail); the exit to raise."""
    shown = escape(safe_text(message, keep_lines=True))
    err_console.print(f"[bold red]error:[/] {shown}")
    for detail in details:
        err_console.print(Text(f"  {safe_text(detail)}"))
    return typer.Exit(code)


def _os_problem(exc: OSError) -> str:
    if exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn EAF and OS errors into a message and exit code 1, not a traceback.

    A URL or token that cannot be sent is a usage error (exit code 2); an API
    error lists each field the server named.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except ClientSettingError as exc:
            raise fail(str(exc), 2) from None
        except IamApiError as exc:
            details = [f"{where}: {what}" for where, what in exc.field_errors]
            raise fail(str(exc), details=details) from None
        except EAFError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(_os_problem(exc)) from None

    return wrapper


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
