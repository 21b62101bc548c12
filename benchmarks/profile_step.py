# USAGE
# python benchmarks/profile_step.py --data-dir mnist15k
# python benchmarks/profile_step.py --data-dir mnist15k --amp --json profile-amp.json

"""Where the time of dcgan_mnist.py's training step goes, by kind of work:
the script itself runs (two epochs of --steps batches, in this process);
its second epoch runs under torch.profiler, and the self CPU time of every
operator is put into one of: convolutions and matrix products, BatchNorm,
activations, casts and layout reorders, Adam, the loss, the rest of the
operators, and what no operator holds (Python between them, the loop's own
bookkeeping). Prints a table of shares and the heaviest operators;
--json writes them (docs/speed.md)."""

import argparse
import collections
import os
import re
import sys
import tempfile
import time

import common  # noqa: F401  (sets up the import path)
from bench_train import cpu_model
from pyimagesearch import files
from pyimagesearch.cli import positive_int

KINDS = [      # (kind, operator names it holds), first match wins
    ("convolutions and matrix products",
     r"conv|mkldnn_convolution|addmm|^aten::mm$|^aten::bmm$|matmul|linear"),
    ("BatchNorm", r"batch_norm"),
    ("activations", r"relu|leaky|tanh|sigmoid|threshold"),
    ("casts and layout reorders", r"^aten::(to|_to_copy|copy_|contiguous|clone)$|reorder"),
    ("Adam", r"adam|Optimizer"),
    ("the loss", r"binary_cross_entropy"),
]
REST = "other operators (cat, view, fill, randn, mean, zero_grad, ...)"
OUTSIDE = "outside any operator (Python, the loop's bookkeeping)"


def kind_of(name):
    for kind, pattern in KINDS:
        if re.search(pattern, name, flags=re.I):
            return kind
    return REST


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="MNIST IDX files")
    ap.add_argument("--steps", type=positive_int, default=40,
                    help="batches per epoch (default: 40)")
    ap.add_argument("--batch-size", type=positive_int, default=128, help="(default: 128)")
    ap.add_argument("--amp", action="store_true", help="profile dcgan_mnist.py --amp")
    ap.add_argument("--top", type=positive_int, default=15, help="operators listed (default: 15)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        ap.error(f"argument --json: no folder {os.path.dirname(os.path.abspath(args.json))} "
                 "to write it in")

    import torch
    from torch.profiler import ProfilerActivity, profile

    import dcgan_mnist

    plain, seen = dcgan_mnist.train_one_epoch, {}

    def counted(dataloader):                # the batches and their sizes, as they pass
        for x in dataloader:
            seen.setdefault("batches", []).append(len(x[0]))
            yield x

    def profiled(gen, disc, genOpt, discOpt, criterion, dataloader, *a, **k):
        if not seen:                        # the second epoch, under the profiler
            seen["warm-up"] = True
            return plain(gen, disc, genOpt, discOpt, criterion, dataloader, *a, **k)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            plain(gen, disc, genOpt, discOpt, criterion, counted(dataloader), *a, **k)
            seen["wall"] = time.perf_counter() - start
        seen["prof"] = prof

    dcgan_mnist.train_one_epoch = profiled
    with tempfile.TemporaryDirectory() as out:
        dcgan_mnist.main(["--output", os.path.join(out, "run"), "--data-dir", args.data_dir,
                          "--no-download", "--no-progress", "--epochs", "2",
                          "--batch-size", str(args.batch_size),
                          "--limit", str(args.steps * args.batch_size), "--seed", "0",
                          "--device", "cpu", *(["--amp"] if args.amp else [])])
    batches = seen.get("batches", [])
    if batches != [args.batch_size] * args.steps:
        # fewer images than --steps x --batch-size: the table would divide
        # the time of fewer (or smaller) steps by --steps
        sys.exit(f"profile_step.py: error: {args.data_dir}'s data gave {len(batches)} "
                 f"batches of {max(batches, default=0)} or fewer, not --steps {args.steps} of "
                 f"--batch-size {args.batch_size}: give fewer steps or a smaller batch")
    events = seen["prof"].key_averages()
    wall = seen["wall"] * 1e6                                          # microseconds
    byKind = collections.Counter()
    for e in events:
        byKind[kind_of(e.key)] += e.self_cpu_time_total
    byKind[OUTSIDE] = max(0.0, wall - sum(byKind.values()))
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:args.top]
    print(f"dcgan_mnist.py{' --amp' if args.amp else ''}, {args.steps} batches of "
          f"{args.batch_size}, {cpu_model()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}: {wall / args.steps / 1e3:.1f} ms a step under the profiler")
    for kind, micros in byKind.most_common():
        print(f"  {micros / wall:6.1%}  {kind}")
    print("heaviest operators (self CPU time):")
    for e in top:
        print(f"  {e.self_cpu_time_total / wall:6.1%}  {e.key} ({e.count} calls)")
    if args.json:
        result = {"cpu": cpu_model(), "threads": torch.get_num_threads(),
                  "torch": torch.__version__, "amp": args.amp, "steps": args.steps,
                  "batch_size": args.batch_size, "ms_per_step": wall / args.steps / 1e3,
                  "shares": {k: v / wall for k, v in byKind.most_common()},
                  "operators": {e.key: {"share": e.self_cpu_time_total / wall, "calls": e.count}
                                for e in top}}
        files.write_json(args.json, result)


if __name__ == "__main__":
    sys.exit(main())
