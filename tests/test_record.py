"""run.json alone: what a new record holds, and its status from the first
write to the last, resumed or cut short."""

import json
import os

import pytest
import torch

from pyimagesearch.data.imageset import ImageSet
from pyimagesearch.training.distributed import Context
from pyimagesearch.training.record import RunRecord


def new_record(tmp_path):
    data = ImageSet(torch.zeros(3, 1, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long),
                    "three images", fallback=True)
    return RunRecord.new(str(tmp_path / "run.json"), 7, "mnist", data, "f00", torch.device("cpu"),
                         Context(rank=0, worldSize=1, localRank=0))


def written(tmp_path):
    return json.loads((tmp_path / "run.json").read_text())


def test_a_new_record_says_where_the_run_comes_from(tmp_path):
    record = new_record(tmp_path)
    record.begin({"epochs": 3, "output": "o"})
    record.write()
    saved = written(tmp_path)
    assert saved["status"] == "running" and saved["arguments"] == {"epochs": 3, "output": "o"}
    assert (saved["seed"], saved["dataset"], saved["num_train_images"]) == (7, "mnist", 3)
    assert saved["data_source"] == "three images" and saved["embedded_fallback"] is True
    assert saved["data_sha256"] == "f00" and saved["world_size"] == 1
    assert set(saved["versions"]) == {"python", "torch", "torchvision", "numpy", "opencv"}
    assert saved["losses"] == saved["montages"] == saved["metrics"] == []


def test_epochs_are_appended_in_order(tmp_path):
    record = new_record(tmp_path)
    record.add_epoch(0, 1.23456, 2.0, 0.5)
    record.add_montage("epoch_0002.png")
    record.add_epoch(1, 2.0, 1.5, 0.7)
    assert record.content["seconds_per_epoch"] == [1.235, 2.0]
    assert record.content["losses"] == [{"epoch": 1, "generator": 2.0, "discriminator": 0.5},
                                        {"epoch": 2, "generator": 1.5, "discriminator": 0.7}]
    assert record.montages == ["epoch_0002.png"]


@pytest.mark.parametrize("finished, status", [(True, "finished"), (False, "stopped")])
def test_an_invocation_that_runs_to_its_end_is_finished_or_stopped(tmp_path, finished, status):
    record = new_record(tmp_path)
    record.begin({})
    record.finish(finished)
    assert written(tmp_path)["status"] == status


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_a_run_cut_short_says_so(tmp_path, status):
    record = new_record(tmp_path)
    record.begin({})
    record.end_early(status)
    assert written(tmp_path)["status"] == status


def test_a_record_that_cannot_be_written_when_cut_short_is_no_second_error(tmp_path):
    record = new_record(tmp_path)
    record.path = str(tmp_path / "gone" / "run.json")          # its folder vanished
    record.end_early("failed")
    assert not os.path.exists(record.path)


def test_a_resumed_record_is_running_again_and_remembers_where(tmp_path):
    record = new_record(tmp_path)
    record.begin({"epochs": 2})
    record.finish(False)
    again = RunRecord.resumed(record.path, written(tmp_path), epoch=2)
    again.begin({"epochs": 4})
    again.write()
    saved = written(tmp_path)
    assert saved["status"] == "running" and saved["resumed_at_epochs"] == [2]
    assert saved["arguments"] == {"epochs": 4}


def test_no_status_outside_the_known_ones(tmp_path):
    with pytest.raises(ValueError):
        new_record(tmp_path).end_early("paused")
