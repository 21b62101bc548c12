"""--dataset folder: your own images as the article's 28x28 digits."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import one_line, run_script, train
from pyimagesearch.data import DataError, load_dataset, to_pixels
from pyimagesearch.data.folder import to_digit


pytestmark = pytest.mark.usefixtures("private_cache")


def stroke(size=(28, 28), light=True, box=(8, 6, 14, 20)):
    """A grey image (H, W) uint8: one rectangular stroke on a plain ground."""
    ground, ink = (0, 230) if light else (250, 20)
    image = np.full(size, ground, dtype=np.uint8)
    top, left, bottom, right = box
    image[top:bottom, left:right] = ink
    return image


def make_folder(root, classes=True):
    """Class 'light': light strokes on dark (PNG, grey); class 'dark': dark
    strokes on light (JPEG, RGB, larger and not square); plus files to skip."""
    (root).mkdir(parents=True)
    for name, light, kind in (("light", True, "png"), ("dark", False, "jpg")):
        folder = root / name if classes else root
        folder.mkdir(exist_ok=True)
        for i in range(6):
            if kind == "png":
                Image.fromarray(stroke(light=light, box=(4 + i, 6, 14 + i, 20))).save(folder / f"{name}{i}.png")
            else:
                rgb = np.repeat(stroke((56, 40), light=light, box=(10, 10, 40, 20 + i))[:, :, None], 3, axis=2)
                Image.fromarray(rgb).save(folder / f"{name}{i}.jpg", quality=95)
    (root / ".DS_Store").write_bytes(b"\0\1binary")
    (root / "README").write_text("my digits")
    (root / "Thumbs.db").write_bytes(b"\0\0")
    return root


def test_every_image_becomes_a_28x28_digit_light_on_dark(tmp_path):
    data = load_dataset("folder", str(make_folder(tmp_path / "imgs")), log=lambda s: None)
    assert data.images.shape == (12, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.classes == ["dark", "light"]                     # sorted, as ImageFolder
    assert data.labels.tolist() == [0] * 6 + [1] * 6
    borders = torch.cat([data.images[:, 0, 0], data.images[:, 0, -1]], dim=1).float()
    assert (borders.mean(1) < 40).all()                          # every ground is dark now
    centre = data.images[:, 0, 10:14, 10:13].float().mean((1, 2))
    assert (centre > 150).all()                                  # and the stroke is light


def test_the_rule_exactly_on_images_that_need_no_resizing():
    light = stroke()
    digit, inverted = to_digit(Image.fromarray(light))
    assert np.array_equal(digit, light) and not inverted
    dark = stroke(light=False)
    digit, inverted = to_digit(Image.fromarray(dark))
    assert np.array_equal(digit, 255 - dark) and inverted
    assert np.array_equal(to_digit(Image.fromarray(dark), invert="no")[0], dark)
    assert np.array_equal(to_digit(Image.fromarray(light), invert="yes")[0], 255 - light)
    # 16 bit: / 257
    deep = (light.astype(np.uint16) * 257)
    assert np.array_equal(to_digit(Image.fromarray(deep))[0], light)
    # not square: padded with the ground, centred (then 28x28 needs no resizing)
    narrow = stroke((28, 14), box=(5, 3, 20, 9))
    padded = np.zeros((28, 28), dtype=np.uint8)
    padded[:, 7:21] = narrow
    assert np.array_equal(to_digit(Image.fromarray(narrow))[0], padded)
    # RGB: ITU-R 601-2 luma
    rgb = np.zeros((28, 28, 3), dtype=np.uint8)
    rgb[5:10, 5:10] = (200, 100, 50)
    assert to_digit(Image.fromarray(rgb))[0][7, 7] == round(200 * 0.299 + 100 * 0.587 + 50 * 0.114)


def test_shape_drawn_only_by_alpha_keeps_its_shape():
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)          # black everywhere ...
    rgba[6:20, 8:14, 3] = 255                             # ... opaque only in the stroke
    digit, _ = to_digit(Image.fromarray(rgba, mode="RGBA"))
    assert digit[10, 10] > 200 and digit[2, 2] < 30       # light stroke, dark ground


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_other_formats_read_as_well(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(stroke()).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    with Image.open(path) as image:
        digit, _ = to_digit(image)
    assert np.array_equal(digit, stroke())


def test_invert_no_and_yes(tmp_path):
    folder = str(make_folder(tmp_path / "imgs"))
    keep = load_dataset("folder", folder, invert="no", log=lambda s: None)
    assert keep.images[:6, 0, 0].float().mean() > 200             # the dark class keeps its light ground
    flip = load_dataset("folder", folder, invert="yes", log=lambda s: None)
    assert torch.equal(flip.images, 255 - keep.images)


def test_a_second_load_comes_from_the_cache_until_a_file_changes(tmp_path):
    folder = make_folder(tmp_path / "imgs")
    said = []
    first = load_dataset("folder", str(folder), log=said.append)
    assert any("decoded 12 images" in s for s in said)
    assert any("6 of 12 images are dark on a light ground: inverted" in s for s in said)
    said.clear()
    again = load_dataset("folder", str(folder), log=said.append)
    assert any("from the cache" in s for s in said) and torch.equal(again.images, first.images)
    Image.fromarray(stroke(box=(0, 0, 28, 28))).save(folder / "light" / "light0.png")
    said.clear()
    changed = load_dataset("folder", str(folder), log=said.append)
    assert any("decoded 12 images" in s for s in said)
    assert not torch.equal(changed.images, first.images)


def test_a_file_rewritten_under_the_same_name_size_and_time_is_decoded_again(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, box in (("a.bmp", (4, 6, 14, 20)), ("b.bmp", (12, 4, 24, 10))):
        Image.fromarray(stroke(box=box)).save(folder / name)   # a BMP's size is its shape's
    first = load_dataset("folder", str(folder), log=lambda s: None)
    target, st = folder / "a.bmp", (folder / "a.bmp").stat()
    target.write_bytes((folder / "b.bmp").read_bytes())
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    said = []
    again = load_dataset("folder", str(folder), log=said.append)
    assert any("decoded 2 images" in s for s in said)
    assert torch.equal(again.images[0], again.images[1]) and not torch.equal(again.images, first.images)


@pytest.mark.parametrize("entry", ["foreign", "wrong-shape", "garbage"])
def test_a_bad_cache_entry_is_said_and_decoded_again(tmp_path, entry):
    folder = make_folder(tmp_path / "imgs")
    first = load_dataset("folder", str(folder), log=lambda s: None)
    (cachePath,) = (tmp_path / "cache").glob("folder-*.pt")
    if entry == "garbage":
        cachePath.write_bytes(b"\x80 not a torch file")
    else:
        images = torch.zeros(12, 1, 28, 28, dtype=torch.uint8) if entry == "foreign" else \
            torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
        torch.save({"images": images, "inverted": 0, "version": 0 if entry == "foreign" else 1},
                   cachePath)
    said = []
    again = load_dataset("folder", str(folder), log=said.append)
    assert any(f"ignoring the cache file {cachePath}" in s for s in said)
    assert torch.equal(again.images, first.images)


def test_a_flat_folder_is_one_unlabelled_class(tmp_path):
    data = load_dataset("folder", str(make_folder(tmp_path / "imgs", classes=False)), log=lambda s: None)
    assert len(data) == 12 and data.classes is None and set(data.labels.tolist()) == {0}


@pytest.mark.parametrize("case, said", [
    ("empty", "holds no images"), ("no-images", "holds no images"),
    ("corrupt", "2 of 14 images cannot be read"), ("empty-class", "a class folder with no images"),
    ("mixed", "beside 2 subfolders"), ("file", "is a file"), ("missing", "no such folder")])
def test_bad_folders_are_one_line_and_nothing_is_written(tmp_path, case, said):
    root = tmp_path / "imgs"
    if case == "empty":
        root.mkdir()
    elif case == "no-images":
        root.mkdir()
        (root / "README").write_text("nothing to see")
    elif case == "corrupt":
        make_folder(root)
        png = (root / "light" / "light1.png").read_bytes()
        (root / "light" / "broken.png").write_bytes(png[:len(png) // 2])     # truncated
        (root / "dark" / "noise.jpg").write_bytes(b"not a jpeg at all")
    elif case == "empty-class":
        make_folder(root)
        (root / "zeros").mkdir()
    elif case == "mixed":
        make_folder(root)
        Image.fromarray(stroke()).save(root / "stray.png")
    elif case == "file":
        root.write_text("a file")
    with pytest.raises(DataError, match=said):
        load_dataset("folder", str(root), log=lambda s: None)
    result = train(tmp_path / "out", root, "--dataset", "folder", "-e", "1")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1 and said in lines[0]
    if case == "corrupt":
        assert "broken.png" in lines[0] or "noise.jpg" in lines[0]
    assert not (tmp_path / "out").exists()


def test_invert_is_refused_for_other_datasets(tmp_path, tiny_data):
    result = train(tmp_path / "out", tiny_data, "--invert", "yes")
    assert result.returncode == 2 and "--invert" in result.stderr


@pytest.mark.slow
def test_one_epoch_end_to_end_with_metrics_by_class_name_and_generate(tmp_path):
    root = tmp_path / "imgs"
    for label in ("circle", "bar"):
        (root / label).mkdir(parents=True)
        for i in range(60):
            image = np.zeros((32, 32), dtype=np.uint8)
            if label == "bar":
                image[4:28, 12 + i % 5:16 + i % 5] = 255
            else:
                yy, xx = np.mgrid[:32, :32]
                image[np.abs(np.hypot(yy - 16, xx - 16) - 8 - i % 3) < 1.5] = 255
            Image.fromarray(image).save(root / label / f"{i}.png")
    out = tmp_path / "run"
    result = train(out, root, "--dataset", "folder", "-e", "1", "-b", "32",
                   "--eval-every", "1", "--eval-num", "256")
    assert result.returncode == 0, result.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["num_train_images"] == 120 and run["dataset"] == "folder"
    assert len(run["data_sha256"]) == 64
    scores = json.loads((out / "metrics.json").read_text())["epochs"][0]
    assert scores["class_names"] == ["bar", "circle"] and sum(scores["class_histogram"]) == 256
    evaluated = run_script("evaluate.py", "--checkpoint", out / "checkpoint.pt", "--num", "256")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "bar" in evaluated.stderr and "circle" in evaluated.stderr
    drawn = run_script("generate.py", "--checkpoint", out / "generator.pth", "--output", tmp_path / "s.png")
    assert drawn.returncode == 0 and (tmp_path / "s.png").exists()
    # a changed folder is refused by --resume
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(root / "bar" / "new.png")
    resumed = train(out, root, "--resume", "-e", "2")
    assert resumed.returncode == 1 and "other images" in resumed.stderr


@pytest.mark.slow
def test_without_class_folders_the_metrics_say_why(tmp_path):
    root = make_folder(tmp_path / "imgs", classes=False)
    out = tmp_path / "run"
    result = train(out, root, "--dataset", "folder", "-e", "1", "--eval-every", "1", "--eval-num", "256")
    assert result.returncode == 0, result.stderr
    assert "--eval-every skipped: the quality metrics need class subfolders" in result.stdout
    assert not (out / "metrics.json").exists()
    evaluated = run_script("evaluate.py", "--checkpoint", out / "checkpoint.pt", "--num", "256")
    lines = [line for line in evaluated.stderr.splitlines() if line.startswith("[ERROR]")]
    assert evaluated.returncode == 1 and "class subfolders" in lines[0]


def test_the_pixels_the_models_take_are_the_articles_transforms_of_the_files(tmp_path):
    """A 28x28 light-on-dark grey PNG needs no resizing or inverting: the
    pixels the models take are then exactly what the article's
    ToTensor() + Normalize((0.5), (0.5)) make of the file itself."""
    from torchvision import transforms

    root = make_folder(tmp_path / "imgs")
    data = load_dataset("folder", str(root), log=lambda s: None)
    articles = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5), (0.5))])
    expected = torch.stack([articles(Image.open(root / "light" / f"light{i}.png"))
                            for i in range(6)])                     # (6, 1, 28, 28)
    assert data.classes[1] == "light"
    assert torch.equal(to_pixels(data.images[data.labels == 1]), expected)


# ------------------------------------------------ hostile folders: one line, never a hang

def png(path, size=(28, 28)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(stroke(size)).save(path)
    return path


def test_fifos_sockets_and_dangling_links_are_skipped_in_a_line_never_read(tmp_path):
    import socket
    root = tmp_path / "imgs"
    png(root / "a" / "one.png")
    png(root / "b" / "two.png")
    os.mkfifo(root / "a" / "pipe.png")                      # reading it would wait forever
    (root / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "b" / "sock.png"))
    lines = []
    data = load_dataset("folder", str(root), log=lines.append)
    server.close()
    assert len(data) == 2 and data.labels.tolist() == [0, 1]
    skipped = [line for line in lines if "skipped" in line]
    assert len(skipped) == 1 and "skipped 3 entries" in skipped[0]


def test_links_count_each_image_once_and_no_class_inside_another(tmp_path):
    root = tmp_path / "imgs"
    png(root / "a" / "one.png")
    png(root / "b" / "two.png")
    png(root / "b" / "three.png")
    (root / "a" / "loop").symlink_to(root / "a")              # a loop
    (root / "a" / "the-b-class").symlink_to(root / "b")       # another class, inside this one
    (root / "a" / "again.png").symlink_to(root / "a" / "one.png")
    data = load_dataset("folder", str(root), log=lambda s: None)
    assert data.labels.tolist() == [0, 1, 1]


def test_a_folder_that_cannot_be_listed_is_said_not_skipped(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    png(root / "a" / "one.png")
    png(root / "b" / "sub" / "two.png")
    listdir = os.listdir

    def denied(path):                     # as chmod 000 does for anyone but root
        if str(path).endswith("sub"):
            raise PermissionError(13, "Permission denied")
        return listdir(path)
    monkeypatch.setattr(os, "listdir", denied)
    with pytest.raises(DataError, match=r"sub: cannot be listed \(Permission denied\), so its "
                                        "images would be left out"):
        load_dataset("folder", str(root), log=lambda s: None)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_named_before_it_is_decoded(tmp_path):
    import struct
    import zlib
    root = tmp_path / "imgs"
    png(root / "ok.png")
    # a valid PNG header promising 100,000 x 100,000 grey pixels, in a few hundred bytes
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    for side in (12_000, 100_000):         # Pillow only warns about the first, refuses the second
        bomb = (b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
        (root / "bomb.png").write_bytes(bomb)
        assert len(bomb) < 400
        with pytest.raises(DataError, match=r"bomb.png \((12,000 x 12,000 pixels; at most|"
                                            r"Image size .* could be decompression bomb)"):
            load_dataset("folder", str(root), log=lambda s: None)


def test_an_absurd_aspect_ratio_and_a_32_bit_tiff_are_named(tmp_path):
    root = tmp_path / "imgs"
    png(root / "ok.png")
    png(root / "thin.png", size=(2, 400))
    Image.fromarray(np.full((28, 28), 10**7, dtype=np.int32), mode="I").save(root / "deep.tif")
    with pytest.raises(DataError) as refused:
        load_dataset("folder", str(root), log=lambda s: None)
    said = str(refused.value)
    assert "2 of 3 images cannot be read" in said
    assert "deep.tif (a 32-bit integer image with values up to 10,000,000" in said
    assert "thin.png" in said


def test_names_that_are_not_utf_8_are_read_and_said(tmp_path):
    root = tmp_path / "imgs"
    png(root / "ok.png")
    bad = os.fsdecode(os.fsencode(str(root)) + b"/caf\xe9.png")
    Image.fromarray(stroke()).save(bad)
    data = load_dataset("folder", str(root), log=lambda s: None)
    assert len(data) == 2
    with open(bad, "wb") as f:
        f.write(b"not an image")
    with pytest.raises(DataError) as refused:
        load_dataset("folder", str(root), log=lambda s: None)
    assert "caf\\xe9.png" in str(refused.value)
    str(refused.value).encode("utf-8")                       # printable


def test_a_resume_after_a_class_folder_was_renamed_names_what_changed(tmp_path):
    root = make_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    first = train(out, root, "--dataset", "folder", "-e", "2", "--stop-after", "1", "-b", "4")
    assert first.returncode == 0, first.stderr
    (root / "dark").rename(root / "zdark")           # the same images, in another order
    resumed = train(out, root, "--resume")
    said = one_line(resumed.stderr)
    assert resumed.returncode == 1
    assert "classes dark, light, now light, zdark" in said
    assert "SHA-256" in said and "--output" in said


def test_a_file_name_in_the_data_never_reaches_the_terminal_raw(tmp_path):
    # an unreadable image named to retitle and clear the terminal, and one
    # whose name is no UTF-8 (\xff) before an escape sequence
    root = make_folder(tmp_path / "imgs")
    (root / "light" / "\x1b]0;OWN\x07\x1b[2Jbad.png").write_bytes(b"not an image")
    (root / "light" / os.fsdecode(b"\xff\x1b[31mbad.png")).write_bytes(b"not an image")
    result = train(tmp_path / "out", root, "--dataset", "folder", "-e", "1")
    line = one_line(result.stderr)
    assert result.returncode == 1 and "2 of 14 images cannot be read" in line
    assert "\\x1b]0;OWN\\x07\\x1b[2Jbad.png" in line and "\\xff\\x1b[31mbad.png" in line
    for character in "\x1b\x07\udcff":
        assert character not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_a_folder_name_that_is_no_utf8_is_escaped_in_the_export_and_the_told_line(tmp_path):
    # class folders a\xffb (no UTF-8: Python reads U+DCFF) and c<U+2028>d; the
    # run records them as they are, the export and every line escape them
    root = tmp_path / "imgs"
    for name in (b"a\xffb", "c\u2028d".encode(), b"e"):
        folder = root / os.fsdecode(name)
        folder.mkdir(parents=True)
        for i in range(4):
            Image.fromarray(stroke(box=(4 + i, 6, 14 + i, 20))).save(folder / f"{i}.png")
    out = tmp_path / "run"
    result = train(out, root, "--dataset", "folder", "-e", "1", "-b", "4", "--conditional")
    assert result.returncode == 0, result.stderr
    exported = run_script("generate.py", "--checkpoint", out / "checkpoint.pt",
                          "--export", tmp_path / "exp")
    assert exported.returncode == 0, exported.stderr
    config = json.loads((tmp_path / "exp" / "config.json").read_text(encoding="utf-8"))
    assert config["class_names"] == ["a\\udcffb", "c\\u2028d", "e"]
    (tmp_path / "exp" / "README.md").read_text(encoding="utf-8")     # strict UTF-8
    for checkpoint in (out / "checkpoint.pt", tmp_path / "exp"):
        drawn = run_script("generate.py", "--checkpoint", checkpoint, "--output",
                           tmp_path / "m.png")
        assert drawn.returncode == 0, drawn.stderr
        assert "from the top: a\\udcffb, c\\u2028d, e" in drawn.stdout
        (drawn.stdout + drawn.stderr).encode("utf-8")
