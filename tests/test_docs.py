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


def test_every_option_is_described_in_the_doc_its_help_names():
    # --balanced-batches' help said "(docs/conditional.md)", which never named it
    import argparse
    import evaluate
    import generate
    from pyimagesearch.training.options import add_training_options
    training = argparse.ArgumentParser()
    add_training_options(training)
    missing = []
    for parser in (training, evaluate.build_arg_parser(), generate.build_arg_parser()):
        for action in parser._actions:
            for doc in re.findall(r"docs/[\w.-]+\.md", action.help or ""):
                flag = max(action.option_strings, key=len)
                if flag not in open(os.path.join(ROOT, doc), encoding="utf-8").read():
                    missing.append(f"{flag} in {doc}")
    assert not missing, missing
