"""Run a script with generate.py --export's ONNX tracing stalled, to signal it there.

    python tests/slow_onnx.py MARKER SCRIPT.py ARGS...

While torch.onnx.export traces the generator (sharing/export.py's
onnx_bytes), the generator's forward creates MARKER and sleeps, so a test
can send Ctrl-C or SIGTERM inside torch's exporter. The KeyboardInterrupt
the signal raises there comes out as another error, as it does at some
moments of torch's own tracing (about one Ctrl-C in 50 sent at random
during a real export gave a TorchExportError traceback, with torch 2.14):
torch.onnx.export catches it, tries its next way of capturing the model,
and either finishes (the Ctrl-C lost) or raises its own error.
"""

import os
import runpy
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyimagesearch import dcgan  # noqa: E402
from pyimagesearch.sharing import export  # noqa: E402


def main():
    marker, script, *args = sys.argv[1:]
    onnxBytes, forward = export.onnx_bytes, dcgan.Generator.forward
    tracing = []

    def stalled_forward(self, x):
        if tracing and not os.path.exists(marker):
            with open(marker, "w"):
                pass
            try:
                time.sleep(600)
            except KeyboardInterrupt as e:
                raise RuntimeError("interrupted inside torch's tracing") from e
        return forward(self, x)

    def traced(*args):
        tracing.append(True)
        try:
            return onnxBytes(*args)
        finally:
            tracing.clear()

    dcgan.Generator.forward = stalled_forward
    export.onnx_bytes = traced
    sys.argv = [script, *args]
    runpy.run_path(os.path.join(ROOT, script), run_name="__main__")


if __name__ == "__main__":
    main()
