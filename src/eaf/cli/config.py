"""`eaf config`: check settings against the environment they claim."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from eaf.cli._common import console, fail, handle_errors, settings_problems
from eaf.profiles import ENVIRONMENTS, check_settings
from eaf.settings import read_settings

app = typer.Typer(help="Settings and environment profiles.", no_args_is_help=True)


@app.command()
@handle_errors
def check(
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="dev, staging or production; default: the one the settings name",
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", envvar="EAF_ENV_FILE", help="The site's env file"),
    ] = None,
    secrets_dir: Annotated[
        Path | None,
        typer.Option(
            "--secrets-dir", envvar="EAF_SECRETS_DIR", help="One file per secret"
        ),
    ] = None,
) -> None:
    """List every problem that makes the settings unfit for ENV; exit 1 if any.

    The settings are read as every EAF process reads them: the profile of the
    environment, the site's env file, the secrets directory, then ``EAF_*``
    variables.
    """
    if env is not None and env not in ENVIRONMENTS:
        raise fail(f"unknown environment {env!r}; use {', '.join(ENVIRONMENTS)}", 2)
    for path in (env_file, secrets_dir):
        if path is not None and not path.exists():
            raise fail(f"{path} does not exist", 2)
    overrides = {} if env is None else {"environment": env}
    try:
        settings = read_settings(env_file, secrets_dir, **overrides)
    except ValidationError as exc:
        raise fail(f"settings are invalid: {settings_problems(exc)}", 1) from None
    problems = check_settings(settings)
    environment = settings.environment
    if not problems:
        console.print(f"[green]settings fit for {environment}[/]")
        return
    table = Table(
        "setting", "problem", title=f"{len(problems)} problems for {environment}"
    )
    for problem in problems:
        table.add_row(problem.setting, problem.message)
    console.print(table)
    raise typer.Exit(1)
