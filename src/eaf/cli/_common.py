"""What every CLI command shares: settings, output, error handling."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from eaf.errors import EAFError
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


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _os_problem(exc: OSError) -> str:
    if exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn EAF and OS errors into a message and exit code 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except EAFError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(_os_problem(exc)) from None

    return wrapper


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
