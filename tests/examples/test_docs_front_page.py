"""docs/README.md, the docs' front page, leads to every page, and every link on it leads
somewhere."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_front_page_links_every_page_of_the_docs() -> None:
    front = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", front))
    pages = {path.name for path in DOCS.glob("*.md")} - {"README.md"}
    assert pages - linked == set()


def test_every_link_on_the_front_page_leads_to_a_file() -> None:
    front = (DOCS / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", front):
        assert (DOCS / target).exists(), target


def test_the_project_readme_sends_readers_to_the_front_page() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/README.md)" in readme
