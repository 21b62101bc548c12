"""Every departure from the article is marked where it happens with its
number on the list of docs/article.md, and every item of that list is marked."""

import glob
import os
import re

from conftest import ROOT

MARKER = re.compile(r"NOTE\(deviation( (\d+))?\)")


def listed():
    """The numbers of docs/article.md's "Deviations from the article" list."""
    readme = open(os.path.join(ROOT, "docs", "article.md")).read()
    section = readme.split("## Deviations from the article", 1)[1].split("\n## ", 1)[0]
    return [int(n) for n in re.findall(r"^(\d+)\. \*\*", section, flags=re.M)]


def markers():
    """(file, line, number or None) of every marker in the code."""
    paths = [os.path.join(ROOT, "dcgan_mnist.py")] + glob.glob(
        os.path.join(ROOT, "pyimagesearch", "**", "*.py"), recursive=True)
    found = []
    for path in paths:
        for number, line in enumerate(open(path).read().splitlines(), start=1):
            for match in MARKER.finditer(line):
                found.append((os.path.relpath(path, ROOT), number,
                              int(match.group(2)) if match.group(2) else None))
    return found


def test_the_list_is_numbered_in_order():
    numbers = listed()
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 14


def test_every_marker_has_a_number_on_the_list():
    numbers = set(listed())
    assert [m for m in markers() if m[2] not in numbers] == []


def test_every_item_of_the_list_is_marked_where_it_happens():
    marked = {number for _, _, number in markers()}
    assert sorted(set(listed()) - marked) == []
