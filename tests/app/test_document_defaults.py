"""The settings a newly opened signal gets: 20 Hz for audio, not carried to the next one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from phasebrush.app.document import DocumentModel
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec


def _open(qtbot, doc, sig, spec=None):
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_signal(sig, spec)


def test_audio_gets_20_hz_and_the_next_signal_its_own_default(qtbot):
    doc = DocumentModel()
    doc.spec = TransformSpec(kind="cwt", nv=8)
    rng = np.random.default_rng(0)
    speech = Signal(rng.standard_normal(16000), dx=1 / 16000, unit="s", name="speech")
    slow = Signal(rng.standard_normal(2048), dx=1 / 2048, unit="s", name="slow")
    _open(qtbot, doc, speech)
    assert doc.spec.fmin == 20.0 and doc.tfr.frequencies[1] >= 19.0   # row 0: edge row
    _open(qtbot, doc, slow)
    assert doc.spec.fmin is None                  # the 20 Hz was the recording's, not ours
    # the user's own f min stays, and so does a session's spec
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_spec(replace(doc.spec, fmin=2.0))
    _open(qtbot, doc, speech)
    assert doc.spec.fmin == 2.0
    _open(qtbot, doc, speech, TransformSpec(kind="cwt", nv=8))
    assert doc.spec.fmin is None
    doc.shutdown()
