"""The README and the documents under docs/ link to files that exist."""

import os
import re

from conftest import ROOT


def test_every_relative_link_of_the_readme_and_docs_points_at_a_file():
    pages = ["README.md"] + [os.path.join("docs", name)
                             for name in sorted(os.listdir(os.path.join(ROOT, "docs")))
                             if name.endswith(".md")]
    broken = []
    for page in pages:
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if re.match(r"[a-z]+:", target):               # https:, mailto:
                continue
            if not os.path.exists(os.path.join(ROOT, os.path.dirname(page), target)):
                broken.append((page, target))
    assert broken == []
