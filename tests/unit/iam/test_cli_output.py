"""The CLI prints server values as text: controls escaped, never markup."""

from __future__ import annotations

import json

import pytest

from eaf.cli._common import console, safe_text, show_json, show_table


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Acme\x1b[2JCorp", "Acme\\x1b[2JCorp"),
        ("a\x9b31mb", "a\\x9b31mb"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("line\nbreak\ttab\rcr", "line\\nbreak\\ttab\\rcr"),
        ("\x00\x7f\u2028", "\\x00\\x7f\\u2028"),
        ("Zoë 東京", "Zoë 東京"),
        (None, ""),
        (42, "42"),
    ],
)
def test_safe_text_escapes_controls(value: object, shown: str) -> None:
    assert safe_text(value) == shown


def test_safe_text_can_keep_lines() -> None:
    assert safe_text("one\ntwo\tthree\r\x1b", keep_lines=True) == (
        "one\ntwo\tthree\\r\\x1b"
    )


def test_table_cells_are_escaped_and_not_markup() -> None:
    rows = [{"slug": "acme", "name": "[bold]Evil[/] \x1b]0;pwned\x07 [/x]"}]

    with console.capture() as captured:
        show_table(rows, ["slug", "name"])
    output = captured.get()

    assert "\x1b" not in output
    assert "\x07" not in output
    assert "[bold]Evil[/]" in output
    assert "\\x1b]0;pwned\\x07" in output


def test_json_output_stays_valid_and_escaped() -> None:
    value = {"name": "a\x1bb\x9bc\u202ed\x7f", "roles": ["x"], "n": None}

    with console.capture() as captured:
        show_json(value)
    output = captured.get()

    assert not any(char in output for char in "\x1b\x9b\u202e\x7f")
    assert json.loads(output) == value
