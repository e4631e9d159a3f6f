"""`eaf config`: check settings against the environment they claim."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from eaf.cli._common import console, fail, handle_errors
from eaf.profiles import ENVIRONMENTS, check_settings, load_profile

app = typer.Typer(help="Settings and environment profiles.", no_args_is_help=True)


@app.command()
@handle_errors
def check(
    env: Annotated[str, typer.Option("--env", help="dev, staging or production")],
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="The site's env file")
    ] = None,
    secrets_dir: Annotated[
        Path | None, typer.Option("--secrets-dir", help="One file per secret")
    ] = None,
) -> None:
    """List every problem that makes the settings unfit for ENV; exit 1 if any."""
    if env not in ENVIRONMENTS:
        raise fail(f"unknown environment {env!r}; use {', '.join(ENVIRONMENTS)}", 2)
    for path in (env_file, secrets_dir):
        if path is not None and not path.exists():
            raise fail(f"{path} does not exist", 2)
    try:
        settings = load_profile(env, env_file, secrets_dir)
    except ValidationError as exc:
        raise fail(f"settings are invalid:\n{exc}", 1) from None
    problems = check_settings(settings)
    if not problems:
        console.print(f"[green]settings fit for {env}[/]")
        return
    table = Table("setting", "problem", title=f"{len(problems)} problems for {env}")
    for problem in problems:
        table.add_row(problem.setting, problem.message)
    console.print(table)
    raise typer.Exit(1)
