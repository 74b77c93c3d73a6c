"""Reading the Markdown pages the way the docs tests need: fenced code blocks, the shell commands in them, links,
heading anchors and the guarantees table. Standard library only; nothing here knows what a page should say."""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from devtools.paths import REPO_ROOT

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
COMMAND_SEPARATORS = {";", "&&", "||", "|", "&"}
EXTERNAL_SCHEMES = ("http://", "https://", "mailto:")


def user_pages() -> list[Path]:
    """The pages a reader follows: README.md, BENCHMARKS.md and docs/."""
    return [REPO_ROOT / "README.md", REPO_ROOT / "BENCHMARKS.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def linked_pages() -> list[Path]:
    """Every page whose links must resolve: the user pages and the benchmark reports."""
    return [*user_pages(), *sorted((REPO_ROOT / "bench" / "reports").glob("*.md"))]


def relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


@dataclass(frozen=True)
class CodeLine:
    """One logical line of a fenced code block (continuation lines joined), and where it starts."""

    page: str
    line_number: int
    text: str

    def where(self) -> str:
        return f"{self.page}:{self.line_number}"


def split_fences(text: str) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """``([(first line number, lines of one fenced block), ...], the lines outside any fence)``; a line inside a
    fence is blanked in the second list, so line numbers and prose stay apart."""
    blocks: list[tuple[int, list[str]]] = []
    prose: list[str] = []
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            if current is None:
                current = []
                blocks.append((number + 1, current))
            else:
                current = None
            prose.append("")
        elif current is not None:
            current.append(line)
            prose.append("")
        else:
            prose.append(line)
    return blocks, prose


def code_lines(page: Path) -> list[CodeLine]:
    """Every logical line of the page's fenced code blocks, with ``\\`` continuations joined."""
    blocks, _prose = split_fences(page.read_text())
    lines: list[CodeLine] = []
    for first, block in blocks:
        pending, start = "", first
        for offset, line in enumerate(block):
            if not pending:
                start = first + offset
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            joined = (pending + line).strip()
            pending = ""
            if joined and not joined.startswith("#"):
                lines.append(CodeLine(relative(page), start, joined))
    return lines


def shell_commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, as argument lists: comments dropped, split at ``;``, ``&&``, ``|``,
    cut before a redirection, leading ``NAME=value`` assignments removed. A line shlex cannot read gives none."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    commands: list[list[str]] = [[]]
    redirected = False
    for token in tokens:
        if token in COMMAND_SEPARATORS:
            commands.append([])
            redirected = False
        elif redirected or set(token) <= set("<>"):
            redirected = True
        else:
            commands[-1].append(token)
    for command in commands:
        while command and ENV_ASSIGNMENT.match(command[0]):
            command.pop(0)
    return [command for command in commands if command]


def relative_links(page: Path) -> list[tuple[str, str]]:
    """``(target, where)`` for every link of the page's prose (not in code) that is not an external URL."""
    _blocks, prose = split_fences(page.read_text())
    links = []
    for number, line in enumerate(prose, start=1):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if not target.startswith(EXTERNAL_SCHEMES):
                links.append((target, f"{relative(page)}:{number}"))
    return links


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces as hyphens, ``-1``,
    ``-2`` ... for repeats."""
    _blocks, prose = split_fences(page.read_text())
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose:
        match = HEADING.match(line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(2).replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# --- the guarantees table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuaranteeRow:
    """One row of the guarantees table: the claim, the folder its short test names are in, the names as written."""

    line_number: int
    guarantee: str
    folder: str
    references: tuple[str, ...]

    def describe(self) -> str:
        claim = self.guarantee if len(self.guarantee) <= 80 else self.guarantee[:77] + "..."
        return f"row at line {self.line_number} ({claim!r})"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def guarantee_rows(text: str) -> list[GuaranteeRow]:
    """The rows of the table whose header is ``| Guarantee | Folder | Proven by |``."""
    rows: list[GuaranteeRow] = []
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if [cell.lower() for cell in cells] == ["guarantee", "folder", "proven by"]:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            if len(cells) != 3:
                raise ValueError(f"guarantees table line {number}: expected 3 cells, got {len(cells)}: {line!r}")
            guarantee, folder, proven_by = cells
            rows.append(GuaranteeRow(number, guarantee, folder.strip("`"), tuple(re.findall(r"`([^`]+)`",
                                                                                            proven_by))))
    return rows


def defined_tests(path: Path) -> set[str]:
    """Names of the ``test_*`` functions defined in a test file (at any depth), read with ``ast``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")}


def missing_tests(rows: list[GuaranteeRow], root: Path = REPO_ROOT) -> list[str]:
    """One message per name of the table that is no existing test (or test file), naming its row."""
    problems: list[str] = []
    for row in rows:
        if not (root / row.folder).is_dir():
            problems.append(f"{row.describe()}: folder {row.folder!r} does not exist")
        if not row.references:
            problems.append(f"{row.describe()}: names no test")
        previous_file: str | None = None
        for reference in row.references:
            file_part, _, test_name = reference.partition("::")
            if not file_part:
                if previous_file is None:
                    problems.append(f"{row.describe()}: {reference!r} has no file named before it in the row")
                    continue
                file_part = previous_file
            elif not file_part.endswith(".py"):
                problems.append(f"{row.describe()}: {reference!r} is not a test name (file.py or file.py::test)")
                continue
            elif not file_part.startswith("tests/"):
                file_part = f"{row.folder}/{file_part}"
            previous_file = file_part
            path = root / file_part
            if not path.is_file():
                problems.append(f"{row.describe()}: {reference!r}: no test file {file_part}")
                continue
            tests = defined_tests(path)
            if test_name and test_name not in tests:
                problems.append(f"{row.describe()}: {reference!r}: {file_part} defines no {test_name}")
            elif not test_name and not tests:
                problems.append(f"{row.describe()}: {reference!r}: {file_part} defines no test")
    return problems
