"""What watching, sharing and playing cost (docs/sharing.md): seconds per
epoch with and without --tensorboard, the time generate.py --export takes
and how far ONNX Runtime is from PyTorch, the exported files' sizes, and how
long demo.py takes until its page answers. Prints them and writes JSON.

    python benchmarks/bench_sharing.py --checkpoint output/checkpoint.pt
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import ROOT, run_script


def seconds_per_epoch(extra, images, epochs):
    record, folder, _ = run_script("--dataset", "fake", "--limit", images, "--epochs", epochs,
                                   "--seed", 1, *extra)
    shutil.rmtree(folder)
    return statistics.median(record["seconds_per_epoch"][1:])     # the first warms up


def export_time(checkpoint):
    folder = os.path.join(tempfile.mkdtemp(prefix="bench-export-"), "export")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "generate.py", "--checkpoint", checkpoint, "--export",
                          folder], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - started
    sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)}
    shutil.rmtree(os.path.dirname(folder))
    difference = float(re.search(r"ONNX matches PyTorch to (\S+)", out).group(1))
    return {"seconds": round(seconds, 1), "onnx_max_difference": difference, "bytes": sizes}


def demo_start(checkpoint):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "demo.py", "--checkpoint", checkpoint, "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"demo.py ended with status {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    return round(time.perf_counter() - started, 1)
            except OSError:
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="a checkpoint.pt to export and serve")
    ap.add_argument("--images", type=int, default=4096, help="FakeData images per epoch "
                    "for the --tensorboard timing (default: 4096)")
    ap.add_argument("--epochs", type=int, default=4, help="(default: 4; the first is left out)")
    ap.add_argument("--out-json", default=os.path.join(ROOT, "benchmarks", "results",
                                                        "bench_sharing-cpu-2core.json"))
    args = ap.parse_args()
    plain = seconds_per_epoch([], args.images, args.epochs)
    board = tempfile.mkdtemp(prefix="bench-tb-")
    logged = seconds_per_epoch(["--tensorboard", os.path.join(board, "tb")], args.images,
                               args.epochs)
    shutil.rmtree(board)
    results = {"machine": f"{os.cpu_count()} CPU cores",
               "tensorboard": {"images_per_epoch": args.images, "seconds_per_epoch_without": plain,
                               "seconds_per_epoch_with": logged,
                               "overhead": round(logged / plain - 1, 4)},
               "export": export_time(args.checkpoint),
               "demo_seconds_to_page": demo_start(args.checkpoint)}
    print(json.dumps(results, indent=1))
    with open(args.out_json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
