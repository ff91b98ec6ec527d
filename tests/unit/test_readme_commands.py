"""Every command in README.md's shell blocks still works: the README cannot drift from the CLI again.

Why: the README is what a new user copies from; it had drifted (options renamed or gone, flags it did not
mention).  Each ``rasd`` line must name a real subcommand whose ``--help`` runs and lists every ``--option`` and
every ``a|b|c`` choice the line shows; a concrete line (no ``[…]``, ``|`` or UPPERCASE placeholder) must parse as
written, and the offline ones (``rasd process``) really run.  ``make X`` must be a target of the Makefile.  A line
this test cannot check fails, so a new kind of command in the README comes with its check.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rasd.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md"]
OFFLINE = {"process"}  # subcommands that need no broker: run for real
SHELLS = {"sh", "bash", "shell", "console"}


def shell_commands(text: str) -> list[str]:
    """The command lines of the fenced shell blocks: continuations joined, trailing ``# comments`` removed."""
    commands: list[str] = []
    for block in re.findall(r"^```(\w*)[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        lang, body = block
        if lang not in SHELLS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.split(r"\s#\s|\s#$|^#", line, maxsplit=1)[0].strip()
            if line:
                commands.append(line)
    return commands


CASES = [(doc.name, line) for doc in DOCS for line in shell_commands(doc.read_text(encoding="utf-8"))]


def command_tokens(line: str) -> list[str]:
    """The words of a command line, without its leading ``VAR=value`` assignments."""
    tokens = shlex.split(line)
    while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[0]):
        tokens.pop(0)
    return tokens


def subcommand_help(sub: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``rasd SUB --help``, run through the CLI's own entry point."""
    with pytest.raises(SystemExit) as exited:
        main([sub, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def check_rasd(tokens: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    sub, args = tokens[1], tokens[2:]
    text = subcommand_help(sub, capsys)
    for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line):
        assert re.search(rf"(?<![\w-]){option}(?![\w-])", text), f"{option} is not an option of `rasd {sub}` ({line})"
    for choices in re.findall(r"(?<![\w-])[a-z]+(?:\|[a-z]+)+(?![\w-])", line):
        for choice in choices.split("|"):
            assert re.search(rf"[{{,]{choice}[,}}]", text), f"{choice!r} is not a choice of `rasd {sub}` ({line})"
    if re.search(r"[\[\]…|]|(?<![\w-])[A-Z][A-Z_]*(?:=[A-Z]+)?(?![\w-])", " ".join(args)):
        return  # a synopsis: its options and choices are checked above
    build_parser().parse_args([sub, *args])  # argparse exits on an unknown option or value
    if sub in OFFLINE:
        proc = subprocess.run([sys.executable, "-m", "rasd", sub, *args], cwd=ROOT, capture_output=True,
                              env={**os.environ, "RASD_BOOTSTRAP_SERVERS": "127.0.0.1:9"}, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        assert [orjson.loads(out) for out in proc.stdout.splitlines()], f"no output from: {line}"


def check_make(tokens: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in tokens[1:]:
        if "=" not in target:
            assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"no make target {target!r}"


@pytest.mark.parametrize(("doc", "line"), CASES, ids=[f"{doc}:{line[:60]}" for doc, line in CASES])
def test_readme_command_runs(doc: str, line: str, capsys: pytest.CaptureFixture[str]) -> None:
    tokens = command_tokens(line)
    if tokens[0] in ("rasd", ".venv/bin/rasd"):
        check_rasd(tokens, line, capsys)
    elif tokens[0] == "make":
        check_make(tokens)
    else:
        pytest.fail(f"{doc}: no check for this kind of command, add one to this test: {line}")


def test_the_readme_has_the_commands_it_should() -> None:
    """The parser above finds the README's commands (an empty list would make every check pass)."""
    lines = [line for _, line in CASES]
    assert "make test" in lines
    assert ".venv/bin/rasd process seeds/" in lines
    subcommands = {command_tokens(line)[1] for line in lines if ".venv/bin/rasd" in line}
    parser_subs = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert subcommands == parser_subs, "every subcommand is in the README's synopsis, and no other"
