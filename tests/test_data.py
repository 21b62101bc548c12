"""Reading MNIST-format data from disk, and the offline fallback."""

import os
import socket
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from conftest import digit_images, make_idx_folder, write_idx
from pyimagesearch.data import sources as data
from pyimagesearch.data import DataError, to_pixels


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_reads_both_layouts_compressed_or_not(tmp_path, gz, layout):
    make_idx_folder(tmp_path, train=20, test=10, gz=gz, layout=layout)
    imageSet = data.load_dataset("mnist", str(tmp_path), allowDownload=False)
    trainImages, trainLabels = digit_images(20, seed=0)
    testImages, _ = digit_images(10, seed=1)
    assert imageSet.images.shape == (30, 1, 28, 28)
    assert imageSet.images.dtype == torch.uint8
    assert imageSet.splits == {"train": 20, "test": 10}
    # train split first, then test, as the article's ConcatDataset
    assert np.array_equal(imageSet.images[:20, 0].numpy(), trainImages)
    assert np.array_equal(imageSet.images[20:, 0].numpy(), testImages)
    assert imageSet.labels[:20].tolist() == trainLabels.tolist()
    assert not imageSet.fallback


def test_a_folder_with_one_split_is_used_as_it_is(tmp_path):
    make_idx_folder(tmp_path, train=0, test=12)
    said = []
    imageSet = data.load_dataset("mnist", str(tmp_path), allowDownload=False,
                                 log=said.append)
    assert len(imageSet) == 12 and imageSet.splits == {"test": 12}
    assert any("only the test split" in line for line in said)


def test_missing_partner_file_is_named(tmp_path):
    images, _ = digit_images(5)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_bad_magic_is_an_error_naming_the_file(tmp_path):
    make_idx_folder(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[0:4] = b"\x12\x34\x08\x03"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*magic"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_truncated_file_is_an_error_naming_the_file(tmp_path):
    make_idx_folder(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*wrong size"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    make_idx_folder(tmp_path, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_label_count_must_match_image_count(tmp_path):
    images, labels = digit_images(6)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:5])
    with pytest.raises(DataError, match="5 labels for 6 images"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_a_label_out_of_range_is_refused_at_load_naming_the_file_and_index(tmp_path):
    # without it --eval-every would train the evaluator on "201 classes"
    images, labels = digit_images(6)
    labels[4] = 200
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: label 200 at index 4 "
                                        r"is out of range \(labels are 0 to 9\)"):
        data.load_dataset("mnist", str(tmp_path), allowDownload=False)


def test_to_pixels_is_exactly_totensor_then_normalize():
    images, _ = digit_images(8)
    article = transforms.Compose([transforms.ToTensor(),
                                  transforms.Normalize((0.5), (0.5))])
    expected = torch.stack([article(Image.fromarray(im, mode="L")) for im in images])
    ours = to_pixels(torch.from_numpy(images).unsqueeze(1))
    assert torch.equal(ours, expected)
    assert ours.min() == -1 and ours.max() == 1


@pytest.mark.slow
def test_failed_download_falls_back_to_the_embedded_digits(tmp_path, monkeypatch, capsys):
    seen = {}

    class Offline:
        def __init__(self, root, train, download):
            seen["timeout"] = socket.getdefaulttimeout()
            raise urllib.error.URLError("Name or service not known")

    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    imageSet = data.load_dataset("mnist", str(tmp_path / "nothing-here"))
    # the download was tried, with a bounded timeout, and then given up
    assert seen["timeout"] == data.DOWNLOAD_TIMEOUT
    assert socket.getdefaulttimeout() is None
    assert imageSet.fallback
    assert imageSet.images.shape == (5000, 1, 28, 28)
    assert torch.bincount(imageSet.labels).tolist() == [500] * 10
    # real digits: mostly black background with bright strokes
    assert 0.1 < (imageSet.images > 128).float().mean() < 0.3
    warning = capsys.readouterr().err
    assert "WARNING" in warning and "Name or service not known" in warning
    assert "--data-dir" in warning
    # the failed download leaves no empty folders behind
    assert not (tmp_path / "nothing-here").exists()


def test_only_the_training_script_trains_on_the_fallback(tmp_path, monkeypatch, capsys):
    # a saved run's own folder, gone: the embedded digits, and the warning
    # says "Using", as evaluate.py, generate.py and demo.py train nothing
    embedded = data.ImageSet(torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
                             torch.arange(4), data.EMBEDDED_SOURCE, fallback=True)
    monkeypatch.setattr(data, "load_embedded_digits", lambda: embedded)
    imageSet, _ = data.load_training_data("mnist", str(tmp_path / "gone"), allowDownload=False,
                                          log=lambda line: None)
    warning = capsys.readouterr().err
    assert imageSet.fallback and "Using the EMBEDDED DEFAULT" in warning
    assert "Training" not in warning
    # a folder the user named: an error naming it
    with pytest.raises(DataError, match=r"gone \(no such folder\) and downloads are off"):
        data.load_training_data("mnist", str(tmp_path / "gone"), allowDownload=False, named=True)


def test_the_fallbacks_warning_shows_no_path_of_this_machine(tmp_path, monkeypatch, capsys):
    # the committed notebook showed "MNIST is not in '/work/.../notebooks/data'"
    monkeypatch.setattr(data, "load_embedded_digits", lambda: None)
    monkeypatch.chdir(tmp_path)
    data._load_real("mnist", str(tmp_path / "data"), False, print, data.warn)
    assert "MNIST is not in 'data' and" in capsys.readouterr().err
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    data._load_real("mnist", str(tmp_path / "home" / "mnist"), False, print, data.warn)
    assert "MNIST is not in '~/mnist' and" in capsys.readouterr().err


def test_other_datasets_do_not_fall_back_to_digits(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "download", lambda *a: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataError, match="FashionMNIST.*--data-dir"):
        data.load_dataset("fashion-mnist", str(tmp_path))


def test_fake_dataset_has_the_requested_size_and_shape():
    imageSet = data.load_fake(10, seed=3)
    assert imageSet.images.shape == (10, 1, 28, 28)
    assert imageSet.images.dtype == torch.uint8
    assert imageSet.images.float().std() > 10          # random, not blank


def test_a_cache_folder_that_cannot_be_used_falls_back_to_a_private_one_said_once(
        tmp_path, monkeypatch, capsys):
    """#40: a read-only or missing home must not fail a run: the evaluator's
    and the decoded folders' cache goes to a temporary folder of this
    process (removed at exit), said once on stderr. (A file where the folder
    should be stands in for a read-only home: root writes through modes.)"""
    from pyimagesearch import files
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "a file" / "cache"))
    monkeypatch.setattr(files, "_CACHE_FALLBACKS", {})
    first, second = files.cache_dir(), files.cache_dir()
    assert first == second and os.path.isdir(first) and os.access(first, os.W_OK)
    assert not first.startswith(str(tmp_path / "a file"))
    files.save_torch(os.path.join(first, "x.pt"), {"x": 1})
    said = [line for line in capsys.readouterr().err.splitlines() if "cache folder" in line]
    assert len(said) == 1 and "cannot be used" in said[0] and "DCGAN_CACHE" in said[0]
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "fine"))
    assert files.cache_dir() == str(tmp_path / "fine")
