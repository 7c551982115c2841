"""README's layout section matches the package: every folder and top-level module is there,
and nothing it names at the top level is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "lenet_edge"


def layout_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Layout\n"):]
    return section[section.index("```") + 3:section.index("```", section.index("```") + 3)]


def package_entries() -> set[str]:
    folders = {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    return folders | modules


def named_entries(block: str) -> set[str]:
    """Names at the start of a package-level line (two-space indent), several on one line."""
    named = set()
    for line in block.splitlines():
        if re.match(r"^  \S", line):
            first = re.split(r"\s{2,}", line.strip())[0]
            named.update(first.split())
    return named


def test_every_folder_and_module_of_the_package_is_in_the_readme_layout():
    assert package_entries() - named_entries(layout_block()) == set()


def test_the_readme_layout_names_nothing_that_is_gone():
    assert named_entries(layout_block()) - package_entries() == set()


def test_the_check_sees_a_missing_folder():
    # The parser must find a real entry, or both tests above pass on an empty set.
    block = layout_block()
    assert "formats/" in named_entries(block)
    assert "formats/" not in named_entries(block.replace("  formats/", "  "))
