"""Every option of dcgan_mnist.py declares what --resume does with it, and
the one way the scripts end on an error."""

import argparse
import sys

import pytest

from pyimagesearch import errors
from pyimagesearch.training.options import (INHERITED, PER_INVOCATION, SHAPES, add_training_options, option,
                                            resume_rules)


def the_scripts_parser():
    """dcgan_mnist.py's parser: the article's three options, then the project's."""
    import dcgan_mnist
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("-e", "--epochs", type=int, default=20)
    ap.add_argument("-b", "--batch-size", type=int, default=128)
    add_training_options(ap)
    assert dcgan_mnist.add_training_options is add_training_options
    return ap


def test_every_option_of_the_script_has_a_resume_rule():
    rules = resume_rules(the_scripts_parser())
    assert rules["output"] == rules["resume"] == rules["stop_after"] == PER_INVOCATION
    assert all(rules[name] == SHAPES for name in
               ("batch_size", "dataset", "limit", "seed", "ema", "invert", "image_size",
                "channels", "recipe", "lr_d", "lr_g", "cr", "cr_shift", "top_k", "diffaug",
                "conditional", "balanced_batches"))
    assert rules["tensorboard"] == INHERITED          # a resume goes on logging where it did
    assert rules["eval_truncation"] == INHERITED     # scored at the same T after a resume
    assert len(rules) == 32


def test_an_option_without_a_rule_is_refused_by_name():
    ap = the_scripts_parser()
    ap.add_argument("--new-thing", type=int, default=0)
    with pytest.raises(ValueError, match="options without a resume rule: new_thing"):
        resume_rules(ap)
    with pytest.raises(ValueError, match="resume rule"):
        option(ap, "--other", resume="sometimes")


def test_the_script_refuses_to_run_with_an_unclassified_option(monkeypatch, tmp_path):
    import dcgan_mnist
    real = dcgan_mnist.add_training_options

    def with_one_more(ap):
        real(ap)
        ap.add_argument("--unruled", action="store_true")

    monkeypatch.setattr(dcgan_mnist, "add_training_options", with_one_more)
    with pytest.raises(ValueError, match="unruled"):
        dcgan_mnist.main(["-o", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_shorten_keeps_one_line_and_says_it_cut():
    assert errors.shorten(ValueError("a\n  b\tc")) == "a b c"
    assert errors.shorten(ValueError()) == "ValueError"
    cut = errors.shorten("x" * 500, limit=20)
    assert len(cut) == 20 and cut.endswith("...")


def test_one_translator_for_every_way_a_script_ends(capsys):
    assert errors.exit_for(errors.UserError("the file is gone")).code == "[ERROR] the file is gone"
    stopped = errors.exit_for(KeyboardInterrupt(), interrupted="kept 3 epochs")
    assert stopped.code == 130 and "[INFO] kept 3 epochs" in capsys.readouterr().err
    ap = argparse.ArgumentParser(prog="x.py")
    usage = errors.exit_for(errors.UsageError("argument --n: too big"), parser=ap)
    assert usage.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "x.py: error: argument --n: too big"
    assert errors.exit_for(RuntimeError("a bug")) is None          # a bug keeps its traceback
    assert errors.exit_for(SystemExit(0)) is None


def test_the_decorated_scripts_end_the_same_way(capsys):
    @errors.one_line_errors
    def main():
        raise errors.UserError("no such file: x.pt")

    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == "[ERROR] no such file: x.pt"

    @errors.one_line_errors
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as ended:
        interrupted()
    assert ended.value.code == 130 and "every file written so far is whole" in capsys.readouterr().err
    assert sys.stdout is not None


@pytest.mark.parametrize("argv, command", [
    (["-o", "/home/me/run"], "python dcgan_mnist.py --output OUTPUT"),
    (["-o", "r", "--data-dir", "/srv/digits", "-e", "30", "--conditional", "--recipe", "better",
      "--seed", "2", "--tensorboard", "--no-progress", "--stop-after", "3", "--overwrite"],
     "python dcgan_mnist.py --output OUTPUT --epochs 30 --data-dir DIR --seed 2 --tensorboard "
     "--conditional --recipe better"),
    (["-o", "r", "--tensorboard", "/tmp/tb", "--resume", "--cr", "1", "--ema", "0.99"],
     "python dcgan_mnist.py --output OUTPUT --tensorboard LOGDIR --ema 0.99 --cr 1.0"),
    # the data's folder and TensorBoard's are two paths: two names, never one DIR for both
    (["-o", "r", "--data-dir", "/srv/digits", "--tensorboard", "/tmp/tb"],
     "python dcgan_mnist.py --output OUTPUT --data-dir DIR --tensorboard LOGDIR"),
])
def test_the_recorded_command_names_what_shapes_the_run_and_no_path(argv, command):
    from pyimagesearch.training.options import command_of
    ap = the_scripts_parser()
    assert command_of(ap, vars(ap.parse_args(argv))) == command
    # the command, run again, gives the same arguments (the paths aside)
    again = vars(ap.parse_args(command.split()[2:]))
    given = vars(ap.parse_args(argv))
    for name in ("epochs", "seed", "conditional", "recipe", "cr", "ema"):
        assert again[name] == given[name]


@pytest.mark.parametrize("extra", [["--diffaug", "translation, colour"], ["--diffaug", ""],
                                   ["--diffaug", "none"], ["--lr-d", "1e-05", "--top-k", "0.5"]])
def test_the_recorded_command_parses_back_to_the_same_arguments_whatever_the_values(extra):
    # a value with a space, or an empty one, is quoted: the command pasted into
    # a shell gives the run's arguments, not an error of argparse
    import shlex
    from pyimagesearch.training.options import command_of
    ap = the_scripts_parser()
    given = vars(ap.parse_args(["-o", "r", "--seed", "3", *extra]))
    words = shlex.split(command_of(ap, given))
    assert words[:2] == ["python", "dcgan_mnist.py"]
    again = vars(ap.parse_args(words[2:]))
    assert {k: v for k, v in again.items() if k != "output"} == \
        {k: v for k, v in given.items() if k != "output"}


@pytest.mark.parametrize("text", ["99", "0", "x"])
def test_a_count_with_a_minimum_above_one_says_its_minimum(text):
    # --cas-num (100 to 100,000) said "must be 0 or a positive integer of at
    # most 100,000, got 0": it refused 0 and never named 100
    from pyimagesearch.cli import count_up_to
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        count_up_to(100_000, 100)(text)
    assert str(refused.value).startswith("must be an integer of at least 100 and at most 100,000")
    assert count_up_to(100_000, 100)("100") == 100
    assert "0 or a positive integer" in str(pytest.raises(
        argparse.ArgumentTypeError, count_up_to(5, 0), "6").value)
