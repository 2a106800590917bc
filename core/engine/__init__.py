"""A bounded-memory, block-wise engine for long signals.

The whole-signal path (:func:`core.tf.transforms.transform`) holds every row x
sample coefficient, about 0.94 GB per second of 44.1 kHz audio at nv 32. Every
CWT and hop-1 STFT row is a convolution, and the one-integral inverse is local
in time (``x[t] = sum_r w_r Re C[r, t] + offset``), so any column range of the
coefficients, and any band's inverse, can be computed block by block with
blocks overlapping by the filters' effective time support.

Modules:

- :mod:`core.engine.blocks`: the block plan, the reflect-padded segment of a
  block (the whole-signal padding emulated at the true ends), progress/cancel.
- :mod:`core.engine.cwt_blocks`: CWT geometry without the filterbank, row
  filters on a block's FFT grid, effective support, :func:`cwt_columns`.
- :mod:`core.engine.stft_blocks`: :func:`stft_columns` (hop 1).
- :mod:`core.engine.stream`: :func:`stream_band` (band and residual block by
  block into arrays or memory maps; intervals or a cell mask; CWT, SSQ-CWT,
  hop-1 STFT and SSQ-STFT), its memory estimate and block choice.
- :mod:`core.engine.ssq_blocks`: synchrosqueezed columns block by block
  (:func:`ssq_blocks`, :func:`ssq_cwt_columns`, :func:`ssq_stft_columns`).
"""

from phasebrush.core.engine.blocks import BlockPlan, plan_blocks
from phasebrush.core.engine.cwt_blocks import CWTGeometry, cwt_columns, cwt_geometry, row_support
from phasebrush.core.engine.stft_blocks import stft_columns
from phasebrush.core.engine.stream import (
    StreamResult,
    choose_block_length,
    estimate_stream_bytes,
    stream_band,
)

__all__ = [
    "BlockPlan", "plan_blocks", "CWTGeometry", "cwt_geometry", "cwt_columns", "row_support",
    "stft_columns", "StreamResult", "stream_band", "estimate_stream_bytes",
    "choose_block_length",
]

# multirate CWT (each row at its own hop) and the display magnitude image
from phasebrush.core.engine.multirate import (  # noqa: E402
    MultirateCWT,
    MultiratePlan,
    cwt_multirate,
    estimate_multirate_bytes,
    plan_multirate,
)

__all__ += ["MultirateCWT", "MultiratePlan", "cwt_multirate", "estimate_multirate_bytes",
            "plan_multirate"]
from phasebrush.core.engine.pyramid import MagnitudePyramid, magnitude_image  # noqa: E402

__all__ += ["MagnitudePyramid", "magnitude_image"]

# synchrosqueezed columns block by block, and the SSQ kinds' stream estimate
from phasebrush.core.engine.ssq_blocks import (  # noqa: E402
    SSQBlocks,
    estimate_ssq_block_bytes,
    ssq_blocks,
    ssq_cwt_columns,
    ssq_stft_columns,
)
from phasebrush.core.engine.stream import choose_ssq_block_length, estimate_ssq_stream_bytes  # noqa: E402

__all__ += ["SSQBlocks", "ssq_blocks", "ssq_cwt_columns", "ssq_stft_columns",
            "estimate_ssq_block_bytes", "estimate_ssq_stream_bytes", "choose_ssq_block_length"]
