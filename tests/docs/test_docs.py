"""The docs site: it builds with mkdocs in strict mode (no warnings, no broken links or anchors), the generated
reference pages match the code, every command and option has help text, and the hand-written pages name only
commands and options that exist."""

from __future__ import annotations

import difflib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hitkit.cli import reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Options and arguments that had no help text when this test was written (their code belongs to other modules).
# Do not add to this list: give the option a help= instead.
KNOWN_WITHOUT_HELP: set[str] = set()

# Pages written and kept by other work; the command/option check below reports on them but they are checked by
# their owners' tests. Every other page in docs/ must name only real commands and options.
GENERATED = {reference.CLI_PAGE, reference.API_PAGE}


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(actual.splitlines(), expected.splitlines(), f"docs/{name} (committed)",
                                 f"docs/{name} (from the code)", lineterm="", n=1)
    return "\n".join(list(lines)[:60])


@pytest.mark.parametrize("name", [reference.CLI_PAGE, reference.API_PAGE])
def test_generated_reference_is_current(name: str) -> None:
    expected = reference.pages()[name]
    path = DOCS / name
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, (
        f"docs/{name} has drifted from the code. Regenerate it with `{reference.REGENERATE}` (from the "
        f"repository root) and commit docs/{name}.\n{_diff(expected, actual, name)}"
    )


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"`mkdocs build --strict` failed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "cli-reference" / "index.html").exists()


def test_every_command_and_option_has_help() -> None:
    missing = [m for m in reference.missing_help() if m not in KNOWN_WITHOUT_HELP]
    assert not missing, (
        "these commands or options have no help text (give them a docstring or help=...): " + ", ".join(missing)
    )


def test_every_command_has_a_cli_reference_entry() -> None:
    page = (DOCS / reference.CLI_PAGE).read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,6} (hitkit.*)$", page, re.M))
    missing = [path for path, _c, _x in reference.iter_commands() if path not in headings]
    assert not missing, f"no entry in docs/cli-reference.md for {missing}: run `{reference.REGENERATE}`"


# ----------------------------------------------------------------------------- the pages name real commands


def _commands() -> dict[str, set[str]]:
    """command path -> every option name it takes (both spellings of each flag)."""
    out: dict[str, set[str]] = {}
    for path, command, ctx in reference.iter_commands():
        names: set[str] = {"--help"}
        for param in command.get_params(ctx):
            if param.param_type_name == "option":
                names.update(param.opts)
                names.update(param.secondary_opts)
        out[path] = names
    return out


_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_CUT = re.compile(r"\s(?:\||&&|;|#|->|→)\s|\s/\s|\s--\s|`")


def hitkit_invocations(text: str) -> list[str]:
    """Every `hitkit ...` command line inside code (a line of a fenced block, or a code span, that starts with it) of
    a Markdown page, cut at pipes, comments and `--` (what follows `hitkit exec --` is another program's).
    Paragraphs that say "planned" describe what does not exist yet, on purpose, and are skipped."""
    codes: list[str] = []
    for block in _FENCE.findall(text):
        codes.extend(block.replace("\\\n", " ").splitlines())
    prose = _FENCE.sub("", text)
    for paragraph in re.split(r"\n\s*\n", prose):
        if "planned" in paragraph.lower():
            continue
        codes.extend(_SPAN.findall(paragraph))
    found = []
    for line in codes:
        line = line.strip().removeprefix("$ ")
        if re.match(r"hitkit\s+[a-z][a-z-]*(?=\s|$)", line):
            cut = _CUT.search(" " + line)
            found.append((line[: cut.start() - 1] if cut else line).strip())
    return found


def check_invocation(line: str, commands: dict[str, set[str]]) -> str | None:
    """None when `line` names a real command and only its options; else what is wrong."""
    try:
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
    except ValueError:
        words = line.replace("[", " ").replace("]", " ").replace("|", " ").split()
    path = "hitkit"
    for word in words[1:]:
        if f"{path} {word}" in commands:
            path = f"{path} {word}"
        else:
            break
    if path == "hitkit":
        return f"`{line}`: no command `hitkit {words[1] if len(words) > 1 else ''}`"
    for word in words:
        flag = word.split("=", 1)[0]
        if re.fullmatch(r"--[a-z][a-z0-9-]*", flag) and flag not in commands[path]:
            return f"`{line}`: `{path}` has no option {flag}"
    return None


def _own_pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.name not in GENERATED | OTHERS_PAGES)


# Pages other work owns (checked by their own tests); README.md is checked too.
OTHERS_PAGES = {"labels.md", "analysis.md", "quality-control.md"}


@pytest.mark.parametrize("page", [*_own_pages(), ROOT / "README.md"], ids=lambda p: p.name)
def test_pages_name_only_real_commands_and_options(page: Path) -> None:
    commands = _commands()
    text = page.read_text(encoding="utf-8")
    problems = []
    for line in hitkit_invocations(text):
        problem = check_invocation(line, commands)
        if problem:
            problems.append(problem)
    assert not problems, f"{page.name} names commands or options that do not exist:\n" + "\n".join(problems)


def test_invocation_checker_catches_mistakes() -> None:
    commands = _commands()
    assert check_invocation("hitkit server run --port 8642", commands) is None
    assert check_invocation("hitkit server run --turbo 4", commands)
    assert check_invocation("hitkit frobnicate", commands)
    assert hitkit_invocations("```\nhitkit exec -- python x.py --foo\n```") == ["hitkit exec"]
    assert hitkit_invocations("run `hitkit launch pets --yes` now") == ["hitkit launch pets --yes"]
    assert hitkit_invocations("**Planned**: `hitkit server run --workers N`.\n\nThen `hitkit collect x`.") == [
        "hitkit collect x"]


def test_compatibility_marks_every_behaviour_as_documented_or_our_rule() -> None:
    """Each row of docs/compatibility.md's tables says whether MTurk documented the behaviour or hitkit chose it."""
    rows = [line for line in (DOCS / "compatibility.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and not line.startswith(("|---", "| behaviour"))]
    assert len(rows) > 50
    unmarked = []
    for line in rows:
        kind = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]][-1]
        if not kind.startswith(("documented", "hitkit's rule")):
            unmarked.append(line)
    assert not unmarked, "say `documented ...` or `hitkit's rule ...` in the last column of:\n" + "\n".join(unmarked)


def test_docstrings_become_markdown() -> None:
    doc = (
        "A *model*: $p_k = \\pi_{kk}$ and [x] <y>.\n\nRules:\n- first\n  continued\n- second\n\n"
        "Args:\n    n_iter: how many.\n    tol: when to stop.\n\nExamples:\n    >>> 1 + 1\n    2"
    )
    md = reference.docstring_to_markdown(doc)
    assert "A \\*model\\*: `$p_k = \\pi_{kk}$` and \\[x\\] &lt;y&gt;." in md
    assert "Rules:\n\n- first\ncontinued\n- second" in md
    assert "**Args:**\n\n- `n_iter`: how many.\n- `tol`: when to stop." in md
    assert "**Examples:**\n\n```pycon\n>>> 1 + 1\n2\n```" in md


def test_regenerate_command_writes_and_checks(tmp_path: Path) -> None:
    run = lambda *args: subprocess.run([sys.executable, "-m", "hitkit.cli.reference", "--docs-dir", str(tmp_path), *args],  # noqa: E731
                                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run().returncode == 0
    assert (tmp_path / reference.CLI_PAGE).read_text(encoding="utf-8") == reference.cli_reference()
    assert run("--check").returncode == 0
    (tmp_path / reference.CLI_PAGE).write_text("# stale\n", encoding="utf-8")
    stale = run("--check")
    assert stale.returncode == 1
    assert reference.CLI_PAGE in stale.stderr and reference.REGENERATE in stale.stderr
