"""The pages hold together: relative links reach a file (and a heading, when they name one), no page tells a reader
to set PYTHONPATH (the package is installed), and the README stays a page a newcomer reads to the end."""

from __future__ import annotations

from pathlib import Path

from tests.docs import markdown
from tests.docs.markdown import REPO_ROOT, heading_anchors, linked_pages, relative, relative_links, user_pages

README_MAX_LINES = 150


def broken_links(page: Path) -> list[str]:
    problems = []
    for target, where in relative_links(page):
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            problems.append(f"{where}: {target} -> no such file")
        elif anchor and destination.suffix == ".md" and anchor not in heading_anchors(destination):
            problems.append(f"{where}: {target} -> {relative(destination)} has no heading #{anchor}")
    return problems


def test_every_relative_link_reaches_an_existing_file_and_heading():
    pages = linked_pages()
    assert {"README.md", "docs/guarantees.md"} <= {relative(page) for page in pages}
    assert sum(len(relative_links(page)) for page in pages) >= 10, "no links found: is the extraction broken?"
    problems = [problem for page in pages for problem in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_a_link_to_a_missing_file_or_heading_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(markdown, "REPO_ROOT", tmp_path)  # messages name pages relative to their folder
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## Airflow 2.11\n")
    page.write_text("# Page\n\n[ok](other.md#airflow-211) [gone](nowhere.md) [bad anchor](other.md#airflow-3)\n"
                    "[self](#page) [web](https://example.com/x.md) `[code](not-a-link.md)`\n"
                    "```\n[in a block](also-not-a-link.md)\n```\n")
    assert broken_links(page) == ["page.md:3: nowhere.md -> no such file",
                                  "page.md:3: other.md#airflow-3 -> other.md has no heading #airflow-3"]


def test_no_page_tells_the_reader_to_set_pythonpath():
    offending = [f"{relative(page)}:{number}: {line.strip()}"
                 for page in user_pages()
                 for number, line in enumerate(page.read_text().splitlines(), start=1) if "PYTHONPATH" in line]
    assert not offending, "\n".join(offending)


def test_the_readme_fits_in_150_lines_and_links_every_page_of_docs():
    readme = REPO_ROOT / "README.md"
    lines = readme.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, at most {README_MAX_LINES}"
    linked = {target.partition("#")[0] for target, _where in relative_links(readme)}
    pages = {relative(page) for page in (REPO_ROOT / "docs").glob("*.md")}
    assert pages, "docs/ holds no page"
    assert pages <= linked, f"pages the README does not link: {sorted(pages - linked)}"
