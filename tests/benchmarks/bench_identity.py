"""Full-mask identity on real speech: interior relative error of invert(transform(x)).

Run: .venv/bin/python -m tests.benchmarks.bench_identity
"""

import numpy as np

from phasebrush.core.io.demo import demo_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import invert
from phasebrush.core.tf.transforms import TransformSpec, transform


def main(argv=None) -> None:
    speech = demo_signal("speech")
    sig = Signal(speech.y[16000:32000], dx=speech.dx, name="arctic_a0007 1.0-2.0 s")
    k = sig.n // 10
    print(f"bench_identity: full-mask inverse of {sig.name} (N = {sig.n}, 16 kHz), "
          "interior = 10 % trimmed each end")
    print(f"  {'kind':9s} {'edge rows':10s} {'rel error':>10s}")
    for kind in ("cwt", "ssq_cwt", "stft", "ssq_stft"):
        for edge in ((True, False) if kind.endswith("cwt") else (True,)):
            tfr = transform(sig, TransformSpec(kind=kind, edge_rows=edge))
            x = invert(tfr)
            err = np.linalg.norm(x[k:-k] - sig.y[k:-k]) / np.linalg.norm(sig.y[k:-k])
            label = ("yes" if edge else "no") if kind.endswith("cwt") else "-"
            print(f"  {kind:9s} {label:10s} {err:10.2e}")


if __name__ == "__main__":
    main()
