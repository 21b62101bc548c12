"""The truncation trick (--truncation, --truncation-curve, --eval-truncation,
the demo's fidelity-variety slider, the exported folder's recommended T):
the noise truncated to [-T, T] by redrawing, reproducible from the seed, and
reaching every place a user samples."""

import json
import math
import os

import cv2
import numpy as np
import pytest
import torch

from conftest import make_idx_folder, one_line, run_script, train
from pyimagesearch.exported import config_problem
from pyimagesearch.sampling import latent
from pyimagesearch.sharing.card import model_card


def truncated_normal_std(T):
    """The standard deviation of N(0, 1) truncated to [-T, T]."""
    phi = math.exp(-T * T / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(T / math.sqrt(2))
    return math.sqrt(1 - 2 * T * phi / mass)


# ------------------------------------------------------------------ the noise

@pytest.mark.parametrize("T", [0.5, 1.0, 2.0])
def test_truncated_noise_is_a_truncated_normal_not_a_clamp(T):
    z = latent.noise(2000, 7, 100, truncation=T)
    assert z.shape == (2000, 100, 1, 1) and z.abs().max() <= T
    # a clamp would pile mass at +-T and give a larger spread
    assert (z.abs() > 0.98 * T).double().mean() < 0.02 * 2 * T
    assert z.std().item() == pytest.approx(truncated_normal_std(T), rel=0.01)
    assert z.mean().abs() < 0.01


def test_the_same_seed_gives_the_same_noise_and_keeps_the_components_within_T():
    plain = latent.noise(64, 3, 100)
    a, b = latent.noise(64, 3, 100, 1.5), latent.noise(64, 3, 100, 1.5)
    assert torch.equal(a, b)
    inside = plain.abs() <= 1.5
    assert torch.equal(a[inside], plain[inside]) and not torch.equal(a, plain)
    assert torch.equal(latent.noise(64, 3, 100, 10.0), plain)   # nothing beyond 10
    assert not torch.equal(latent.noise(64, 4, 100, 1.5), a)


@pytest.mark.parametrize("T", [0.0, 0.09, 10.5, math.inf, math.nan])
def test_a_threshold_out_of_range_is_refused(T):
    with pytest.raises(ValueError, match="truncation must be from 0.1 to 10"):
        latent.noise(4, 0, 100, truncation=T)


def test_the_walks_keyframes_are_truncated():
    walk = latent.latent_walk(3, 4, 2, 0, 100, truncation=1.0)
    keyframes = walk[::2]                  # every second frame is a keyframe (steps = 2)
    assert keyframes.abs().max() <= 1.0
    assert latent.latent_walk(3, 4, 2, 0, 100).abs().max() > 1.0


# ------------------------------------------------------------------ the scripts

@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    root = tmp_path_factory.mktemp("truncation")
    data = make_idx_folder(root / "data", train=64, test=100)
    result = train(root / "run", data, "-e", "2", "-b", "16", "--conditional", "--device", "cpu",
                   "--eval-every", "2", "--eval-num", "256", "--eval-truncation", "1")
    assert result.returncode == 0, result.stderr
    return root


def cells(path, size=28):
    """The montage's cells as (N, size, size) grey arrays."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return np.stack([image[r * size:(r + 1) * size, c * size:(c + 1) * size]
                     for r in range(rows) for c in range(cols)]).astype(float)


def test_generate_truncates_every_output_and_T_10_is_the_untruncated_noise(conditional, tmp_path):
    checkpoint = conditional / "run" / "checkpoint.pt"
    for name, extra in (("plain", []), ("ten", ["--truncation", "10"]),
                        ("low", ["--truncation", "0.5"])):
        result = run_script("generate.py", "--checkpoint", checkpoint, "--output",
                            tmp_path / f"{name}.png", "--num", "100", "--device", "cpu",
                            "--individual", tmp_path / name, "--morph", "3", "8", *extra)
        assert result.returncode == 0, result.stderr
    assert "truncated at T = 0.5" in result.stderr + result.stdout
    plain, ten, low = (cells(tmp_path / f"{n}.png") for n in ("plain", "ten", "low"))
    assert np.array_equal(plain, ten)
    assert not np.array_equal(plain, low)
    # less variety: the cells of one class (one row of ten) spread less about their mean
    spread = [np.mean([c.reshape(10, -1).std(0).mean() for c in np.split(m, 10)])
              for m in (plain, low)]
    assert spread[1] < spread[0]
    for folder in ("ten", "low"):
        files = sorted(p.name for p in (tmp_path / folder).iterdir())
        assert len(files) == 100
    a = cv2.imread(str(tmp_path / "plain" / "digit_0011_class_1.png"))
    assert np.array_equal(a, cv2.imread(str(tmp_path / "ten" / "digit_0011_class_1.png")))
    assert (tmp_path / "low-morph-3-8.gif").read_bytes() != (tmp_path / "plain-morph-3-8.gif").read_bytes()


@pytest.mark.parametrize("value", ["0", "0.05", "11", "nan", "inf", "x", "-1"])
def test_generate_refuses_a_bad_threshold_before_writing(conditional, tmp_path, value):
    result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--output", tmp_path / "x.png", "--truncation", value, "--device", "cpu")
    assert result.returncode == 2
    assert "argument --truncation: must be a number from 0.1 to 10" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("value, shown", [("10.0000001", "got 10.0000001"),
                                          ("0.09999999999999999", "got 0.09999999999999999"),
                                          ("1e30", "got 1e+30")])
def test_a_refused_threshold_is_shown_with_the_digits_that_put_it_out_of_range(tmp_path, value,
                                                                               shown):
    result = run_script("generate.py", "--output", tmp_path / "x.png", "--truncation", value)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(shown), result.stderr


def test_generate_refuses_truncation_with_the_discriminators_samplers(conditional, tmp_path):
    for sampler in ("--rejection", "--langevin"):
        result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                            "--output", tmp_path / "x.png", "--truncation", "1", sampler)
        assert result.returncode == 2 and "choose one" in result.stderr
        assert not (tmp_path / "x.png").exists()


def test_evaluate_prints_the_truncation_curve_from_variety_to_fidelity(conditional):
    result = run_script("evaluate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--num", "256", "--device", "cpu", "--truncation-curve", "1", "2")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.splitlines()[-1])
    curve = scores["truncation_curve"]
    assert [row["truncation"] for row in curve] == [None, 2.0, 1.0]
    assert curve[0]["fld"] == scores["fld"]                     # the untruncated row is the score
    assert all(0 <= row["as_asked"] <= 1 and row["worst_as_asked"] <= row["as_asked"]
               for row in curve)
    assert len({row["fld"] for row in curve}) == 3             # each T its own samples
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "the truncation curve" in line)
    table = [line for line in lines[start + 1:] if line.startswith("[RESULT]   ")]
    assert table[0].split()[1:4] == ["T", "as", "asked"] and len(table) == 4
    assert table[1].split()[1] == "none" and table[3].split()[1] == "1"
    # --truncation alone: the score of the truncated samples, said as such
    one = run_script("evaluate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                     "--num", "256", "--device", "cpu", "--truncation", "1")
    truncated = json.loads(one.stdout.splitlines()[-1])
    assert truncated["truncation"] == 1.0 and truncated["fld"] == pytest.approx(curve[2]["fld"])
    assert "truncated at T = 1" in one.stderr


def test_eval_truncation_scores_the_truncated_generator_each_evaluation(conditional):
    record = json.loads((conditional / "run" / "run.json").read_text())
    last = record["metrics"][-1]
    assert last["truncated"]["truncation"] == 1.0
    assert last["truncated"]["fld"] != last["fld"]
    assert "conditioning" in last["truncated"]
    assert record["arguments"]["eval_truncation"] == 1.0
    assert "--eval-truncation 1" in record["command"]


# ------------------------------------------------------------------ the export

def test_the_export_records_the_recommended_T_and_the_card_says_how_to_truncate(conditional,
                                                                                 tmp_path):
    result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--export", tmp_path / "exp", "--truncation", "1.25", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert config["truncation"] == 1.25
    card = (tmp_path / "exp" / "README.md").read_text()
    assert "recommended T is **1.25**" in card
    assert "np.abs(z) > 1.25" in card and "z.abs() > T" in card
    plain = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                       "--export", tmp_path / "plain", "--device", "cpu")
    assert "truncation" not in json.loads((tmp_path / "plain" / "config.json").read_text())
    assert "recommends no T" in (tmp_path / "plain" / "README.md").read_text()
    assert plain.returncode == 0


def test_the_cards_snippet_draws_noise_within_T():
    card = model_card({"inputDim": 100, "outputChannels": 1, "imageSize": 28, "numClasses": 10,
                       "truncation": 0.8})
    snippet = card.split("```python\ndef truncated_noise")[1].split("```")[0]
    namespace = {"torch": torch}
    exec("def truncated_noise" + snippet, namespace)             # the card's own code, run
    torch.manual_seed(0)
    z = namespace["truncated_noise"](500)
    assert z.shape == (500, 100, 1, 1) and z.abs().max() <= 0.8
    assert z.std().item() == pytest.approx(truncated_normal_std(0.8), rel=0.02)


def test_the_schema_takes_a_curve_and_refuses_a_bad_T():
    base = {"inputDim": 100, "outputChannels": 1, "imageSize": 28}
    assert config_problem({**base, "truncation": 1.5, "truncation_curve": [
        {"truncation": None, "as_asked": 0.97, "worst_class": "5", "fld": 9.0},
        {"truncation": 1.5, "as_asked": 0.99, "worst_class": "9", "fld": 10.0}]}) is None
    for bad in (0.0, -1, 50, "1.5", True):
        assert config_problem({**base, "truncation": bad}) is not None
    assert config_problem({**base, "truncation_curve": [{"fld": "low"}]}) is not None
    assert config_problem({**base, "truncation_curve": [{"truncation": 0.01}]}) is not None


# ------------------------------------------------------------------ the demo

def test_the_demos_slider_truncates_and_its_right_end_is_untruncated(conditional, tmp_path):
    from pyimagesearch.errors import UserError
    from pyimagesearch.sharing.playground import (NO_TRUNCATION, Playground, slider_value,
                                                  truncation_of)
    play = Playground(conditional / "run" / "checkpoint.pt", "cpu", log=lambda line: None)
    assert play.truncation is None
    plain = play.grid(0, 16)
    assert np.array_equal(play.grid(0, 16, False, NO_TRUNCATION), plain)
    assert not np.array_equal(play.grid(0, 16, False, 0.5), plain)
    assert np.array_equal(play.grid(0, 16, False, 0.5), play.grid(0, 16, False, "0.5"))
    assert not np.array_equal(play.digit("3", 0, 16, 0.5, 0.5)[0], play.digit("3", 0, 16)[0])
    assert not torch.equal(play.morph_path(1, 2, "1", "7", 0.5), play.morph_path(1, 2, "1", "7"))
    for value in (0.05, 4.5, "x", None, math.nan):
        with pytest.raises(UserError, match="the fidelity-variety slider"):
            truncation_of(value)
    with pytest.raises(UserError, match=r"to 4 \(no truncation\), got 4\.0000001$"):
        truncation_of(4.0000001)                       # not shown as 4, which is in range
    exported = tmp_path / "exp"
    result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--export", exported, "--truncation", "1.5", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    play = Playground(exported, "cpu", log=lambda line: None)
    assert play.truncation == 1.5
    assert "noise truncated at T = 1.5" in " ".join(play.summary())
    assert not any("Langevin" in line for line in play.summary())     # not for told classes
    # a recommended T at or beyond the slider's right end is drawn untruncated, and said so
    beyond = tmp_path / "beyond"
    result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--export", beyond, "--truncation", "4.5", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    play = Playground(beyond, "cpu", log=lambda line: None)
    assert np.array_equal(play.grid(0, 16, False, slider_value(play.truncation)), plain)
    assert "untruncated noise (the file recommends T = 4.5" in " ".join(play.summary())


def test_an_unconditional_generator_is_truncated_too(tmp_path):
    shipped = "pretrained/mnist-article"
    for name, extra in (("plain", []), ("ten", ["--truncation", "10"]),
                        ("low", ["--truncation", "0.7"])):
        result = run_script("generate.py", "--checkpoint", shipped, "--output",
                            tmp_path / f"{name}.png", "--num", "64", "--device", "cpu", *extra)
        assert result.returncode == 0, result.stderr
    plain, ten, low = (cells(tmp_path / f"{n}.png") for n in ("plain", "ten", "low"))
    assert np.array_equal(plain, ten) and not np.array_equal(plain, low)


def test_the_hub_model_draws_noise_at_the_folders_recommended_T(conditional, tmp_path):
    from pyimagesearch.hub import DCGANGenerator
    result = run_script("generate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                        "--export", tmp_path / "exp", "--truncation", "0.9", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    gen = DCGANGenerator.from_pretrained(str(tmp_path / "exp")).eval()
    assert gen.truncation == 0.9
    assert gen.noise(500).abs().max() <= 0.9
    assert gen.noise(500, truncation=None).abs().max() > 2
    assert gen.noise(500, truncation=2.0).abs().max() <= 2.0
    seeded = [gen.noise(8, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*seeded)
    assert gen(gen.noise(4), torch.full((4,), 7)).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="truncation must be from 0.1 to 10"):
        gen.noise(4, truncation=0.0)


# ------------------------------------------------------------------ hostile values

@pytest.mark.parametrize("value", ["\n\n\n50", "50\r\x0b", " " * 100_000 + "50", "\x1b[2J50"])
def test_a_refused_threshold_is_one_short_line_without_control_characters(tmp_path, value):
    result = run_script("generate.py", "--output", tmp_path / "x.png", "--truncation", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert "error: argument --truncation: must be a number from 0.1" in last
    assert len(result.stderr) < 2000
    assert not any(c in result.stderr for c in "\r\x0b\x1b")
    assert result.stderr.count("error:") == 1


def test_eval_truncation_needs_eval_every_and_a_checkpoints_value_is_checked(conditional, tmp_path):
    from pyimagesearch import files
    from pyimagesearch.checkpoint import load
    result = train(tmp_path / "off", conditional / "data", "-e", "1", "--eval-truncation", "1.5")
    assert result.returncode == 2 and "give --eval-every K too" in result.stderr
    assert not (tmp_path / "off").exists()
    run = tmp_path / "run"
    result = train(run, conditional / "data", "-e", "1", "-b", "16", "--conditional",
                   "--eval-every", "1", "--eval-num", "256", "--eval-truncation", "1.5")
    assert result.returncode == 0, result.stderr
    for bad in ("1.5", 50.0, math.nan, True):
        saved = load(run / "checkpoint.pt")
        saved["args"]["eval_truncation"] = bad
        files.save_torch(run / "checkpoint.pt", saved)
        before = (run / "history.csv").read_bytes()
        result = train(run, conditional / "data", "-e", "2", "--resume")
        assert result.returncode == 2, (bad, result.stderr)
        assert "argument --eval-truncation: must be a number from 0.1 to 10" in result.stderr
        assert "Traceback" not in result.stderr and (run / "history.csv").read_bytes() == before


def test_the_slider_refuses_a_huge_integer_in_words_and_reaches_every_exportable_T(conditional):
    from pyimagesearch.errors import UserError
    from pyimagesearch.sharing.playground import Playground, slider_value, truncation_of
    play = Playground(conditional / "run" / "checkpoint.pt", "cpu", log=lambda line: None)
    for ask in (lambda: play.grid(0, 4, False, 10**400),
                lambda: play.digit("3", 0, 4, 0.9, 10**30),
                lambda: play.morph_path(0, 1, "3", "8", 10**30)):
        with pytest.raises(UserError, match="the fidelity-variety slider must be"):
            ask()
    assert truncation_of(0.1) == 0.1 and slider_value(0.1) == 0.1


def test_the_schema_refuses_huge_numbers_and_control_characters_in_words():
    base = {"inputDim": 100, "outputChannels": 1, "imageSize": 28}
    for config in ({**base, "truncation": 10**400},
                   {**base, "truncation_curve": [{"fld": 10**400}]},
                   {**base, "truncation_curve": [{"as_asked": 1e308}]},
                   {**base, "truncation_curve": [{"fld": -1e308}]},
                   {**base, "truncation_curve": [{"worst_class": "\x1b]0;pwned\x07\x1b[2J"}]},
                   {**base, "truncation_curve": [{"referee_worst_class": "9\u202e"}]}):
        problem = config_problem(config)
        assert problem and "\n" not in problem, config


def test_a_card_with_a_null_sample_count_is_written():
    card = model_card({"inputDim": 100, "outputChannels": 1, "imageSize": 28,
                       "scores": {"fld": 10.0, "num_samples": None},
                       "truncation_curve": [{"truncation": None, "fld": 10.0, "precision": 0.7,
                                             "recall": 0.7}]})
    assert "10,000 samples" in card


def test_evaluate_refuses_truncation_with_the_discriminators_samplers(conditional):
    for extra in (["--truncation", "1"], ["--truncation-curve"]):
        result = run_script("evaluate.py", "--checkpoint", conditional / "run" / "checkpoint.pt",
                            "--rejection", *extra)
        assert result.returncode == 2 and "choose one" in result.stderr


# ------------------------------------------------------------------ benchmarks/truncation_curve.py, referee.py

@pytest.fixture
def benchmarks(monkeypatch):
    """benchmarks/ importable, so that run_script runs its scripts' main()."""
    from conftest import ROOT
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))


def curve_file(path, **changes):
    """An --out-json of truncation_curve.py (no generator_sha256: written
    before it was recorded), its untruncated row changed by `changes`."""
    row = {"truncation": None, "fld": 4.0, "precision": 0.8, "recall": 0.8, "as_asked": 0.98,
           "worst_class": "7", "worst_as_asked": 0.96, "referee_as_asked": 0.98,
           "referee_worst_class": "9", "referee_worst_as_asked": 0.96, "referee_fld": 1.0,
           "referee_per_class": {"0": 1.0}}
    path.write_text(json.dumps({"per_class": 1000, "seed": 0, "checkpoint": "x",
                                "curve": [{**row, **changes}, {**row, "truncation": 1.5}]}))
    return path


def test_the_benchmarks_refuse_a_runs_own_files_before_any_work_and_say_what_they_replace(
        conditional, tmp_path, benchmarks):
    run = conditional / "run"
    before = {name: (run / name).read_bytes() for name in ("run.json", "losses.png")}
    for script, option, name in (("referee.py", "--json", "run.json"),
                                 ("truncation_curve.py", "--out-json", "run.json"),
                                 ("truncation_curve.py", "--plot", "losses.png")):
        result = run_script(script, "--data-dir", tmp_path / "none", "--checkpoint",
                            run / "checkpoint.pt", option, run / name)
        assert result.returncode == 2, result.stderr
        assert "is one of the files of the training run in" in result.stderr.splitlines()[-1]
    assert before == {name: (run / name).read_bytes() for name in before}
    (tmp_path / "out.json").write_text("old")
    (tmp_path / "out.png").write_text("old")
    result = run_script("truncation_curve.py", "--data-dir", tmp_path, "--checkpoint",
                        run / "checkpoint.pt", "--curve-json", curve_file(tmp_path / "c.json"),
                        "--out-json", tmp_path / "out.json", "--plot", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr
    for name in ("out.json", "out.png"):
        assert f"wrote {tmp_path / name} (replaced the file that was there)" in result.stderr
    assert json.loads((tmp_path / "out.json").read_text())["curve"][1]["truncation"] == 1.5
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")


def test_a_curve_json_is_checked_and_its_class_names_escaped(conditional, tmp_path, benchmarks):
    checkpoint = conditional / "run" / "checkpoint.pt"

    def curve(path, *extra):
        return run_script("truncation_curve.py", "--data-dir", tmp_path, "--checkpoint",
                          checkpoint, "--curve-json", path, *extra)

    shown = curve(curve_file(tmp_path / "c.json", worst_class="\x1b]0;PWNED\x07\x1b[2J7"))
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\\x1b]0;PWNED\\x07\\x1b[2J7" in shown.stdout
    assert "records no generator_sha256" in shown.stderr           # trusted, and said
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "empty.json").write_text('{"curve": []}')
    (tmp_path / "text.json").write_text("not json")
    for path, said in ((tmp_path / "missing.json", "cannot read it"),
                       (tmp_path / "list.json", "not a JSON object"),
                       (tmp_path / "empty.json", "not a list of 1 to 50 rows"),
                       (tmp_path / "text.json", "not JSON"),
                       (curve_file(tmp_path / "inf.json", fld=math.inf), "'fld' must be a number"),
                       (curve_file(tmp_path / "t.json", truncation=99), "not the untruncated one"),
                       (curve_file(tmp_path / "w.json", worst_class=7), "'worst_class' must be")):
        result = curve(path)
        assert result.returncode == 1 and said in one_line(result.stderr), (path, result.stderr)
    about = json.loads(curve_file(tmp_path / "other.json").read_text())
    (tmp_path / "other.json").write_text(json.dumps({**about, "generator_sha256": "0" * 64}))
    result = curve(tmp_path / "other.json")
    assert result.returncode == 1 and "measured on other weights" in one_line(result.stderr)
    zero = curve(curve_file(tmp_path / "zero.json", fld=0.0))          # no ratio to an FLD of 0
    assert zero.returncode == 0 and "Traceback" not in zero.stderr


def test_a_curve_json_export_refuses_a_full_folder_first_and_writes_names_escaped(
        conditional, tmp_path, benchmarks):
    checkpoint = conditional / "run" / "checkpoint.pt"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    bad = curve_file(tmp_path / "c.json", worst_class="\x1b[2J7")
    result = run_script("truncation_curve.py", "--data-dir", tmp_path, "--checkpoint", checkpoint,
                        "--curve-json", bad, "--export", tmp_path / "full", "--default", "1.5")
    assert result.returncode == 2 and "exists and holds other files" in result.stderr
    assert "appeared" not in result.stderr and "Traceback" not in result.stderr
    result = run_script("truncation_curve.py", "--data-dir", tmp_path, "--checkpoint", checkpoint,
                        "--curve-json", bad, "--export", tmp_path / "exp", "--default", "1.5")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert config["truncation_curve"][0]["worst_class"] == "\\x1b[2J7"
    assert config["truncation"] == 1.5


@pytest.mark.parametrize("script", ["referee.py", "truncation_curve.py", "truncation_variants.py"])
@pytest.mark.parametrize("value", ["-1", "0", "100000000"])
def test_the_benchmarks_bound_per_class(tmp_path, benchmarks, script, value):
    result = run_script(script, "--data-dir", tmp_path, "--checkpoint", tmp_path / "c.pt",
                        "--per-class", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --per-class: must be a positive integer of at most 10,000" in result.stderr


def test_the_variants_separate_cutting_the_tails_from_narrowing_the_noise(benchmarks):
    import truncation_variants as tv
    from pyimagesearch.sampling import latent
    untouched = latent.noise
    plain, cut = untouched(4000, 3, 100), untouched(4000, 3, 100, 1.5)
    # the deviation of a normal truncated at T, against a sample of one
    assert tv.truncated_std(1.5) == pytest.approx(cut.std().item(), abs=0.005)
    from scipy.stats import truncnorm
    for T in (1.0, 1.5, 2.0):
        assert tv.truncated_std(T) == pytest.approx(truncnorm(-T, T).std(), rel=1e-9)
    with tv.noise_drawn("truncate"):
        assert torch.equal(latent.noise(4000, 3, 100, 1.5), cut)
        assert torch.equal(latent.noise(4000, 3, 100), plain)      # untruncated: untouched
    with tv.noise_drawn("truncate, variance restored"):
        wide = latent.noise(4000, 3, 100, 1.5)
        assert wide.std().item() == pytest.approx(1.0, abs=0.005)
        assert wide.abs().max() <= 1.5 / tv.truncated_std(1.5) + 1e-5
    with tv.noise_drawn("truncate, length kept"):
        kept = latent.noise(4000, 3, 100, 1.5)
        assert torch.allclose(kept.flatten(1).norm(dim=1), plain.flatten(1).norm(dim=1))
        assert not torch.allclose(kept, plain)
    with pytest.raises(RuntimeError):
        with tv.noise_drawn("shrink"):
            assert torch.allclose(latent.noise(4000, 3, 100, 1.5), plain * tv.truncated_std(1.5))
            raise RuntimeError
    assert latent.noise is untouched                                # put back, even on an error


def test_the_variants_refuse_what_they_could_not_write_or_read_before_any_work(tmp_path,
                                                                              benchmarks):
    shipped = "pretrained/mnist-conditional"
    empty = run_script("truncation_variants.py", "--checkpoint", shipped, "--data-dir", tmp_path,
                       "--out-json", "")
    assert empty.returncode == 2 and "argument --out-json: an empty name" in empty.stderr
    if os.path.isdir("/proc"):                        # a folder where mkdir fails, even for root
        proc = run_script("truncation_variants.py", "--checkpoint", shipped, "--data-dir",
                          tmp_path, "--out-json", "/proc/x.json")
        assert proc.returncode == 2 and "nothing can be written in /proc" in proc.stderr
    # a --data-dir without the real digits: refused, not the embedded default in its place
    missing = run_script("truncation_variants.py", "--checkpoint", shipped, "--data-dir",
                         tmp_path / "none", "--out-json", tmp_path / "v.json")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "[ERROR]" in missing.stderr and "noise: shrink" not in missing.stderr
    assert not (tmp_path / "v.json").exists()
