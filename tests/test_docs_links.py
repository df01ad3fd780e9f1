"""Every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves: to a
file, and to a heading when it names an #anchor (GitHub's anchor rules)."""

from __future__ import annotations

import re
from pathlib import Path

from ttai.config import PROJECT_ROOT

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
README_MAX_LINES = 300


def pages() -> list[Path]:
    return [
        PROJECT_ROOT / "README.md",
        PROJECT_ROOT / "CONTRIBUTING.md",
        *sorted((PROJECT_ROOT / "docs").glob("*.md")),
    ]


def outside_code(text: str) -> list[str]:
    """The lines outside fenced code blocks (a link in code is no link)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor_of(heading: str) -> str:
    """GitHub's: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in outside_code(page.read_text()):
        if match := re.match(r"#{1,6} (.*)", line):
            anchor = anchor_of(match.group(1))
            repeat = seen.get(anchor, 0)
            found.add(anchor if repeat == 0 else f"{anchor}-{repeat}")
            seen[anchor] = repeat + 1
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall("\n".join(outside_code(page.read_text()))):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check offline
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no such heading")
    return broken


def test_every_relative_link_resolves() -> None:
    checked = pages()
    assert len(checked) > 3  # really looked
    broken = {str(p.relative_to(PROJECT_ROOT)): b for p in checked if (b := broken_links(p))}
    assert broken == {}


def test_the_readme_stays_a_front_door() -> None:
    assert len((PROJECT_ROOT / "README.md").read_text().splitlines()) <= README_MAX_LINES


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#a-heading) [web](https://example.com)\n"
        "```\n[in code](missing.md)\n```\n"
        "[gone](missing.md) [no heading](other.md#nope)\n"
    )
    assert broken_links(page) == ["missing.md: no such file", "other.md#nope: no such heading"]
