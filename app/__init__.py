"""PhaseBrush desktop app (PySide6 + pyqtgraph).

Modules:
    main             entry point ``phasebrush`` (GUI; CLI subcommands go to cli.main)
    worker           the one worker class: any core task in a QThread
    layers           LayerModel: bands and painted masks with a QUndoStack
    document         DocumentModel: signal, transform, selection inverse, retrieval
    grid             TFR cells <-> display coordinates (no Qt)
    tfr_view         the time-frequency image and its mouse tools
    signal_view      the signal and its overlays
    transform_panel  transform settings and display levels
    layer_panel      the layer list and brush options
    retrieval_panel  phase-retrieval parameters, run / cancel, loss plot
    main_window      the window that wires them together
    screenshot       renders the window to a PNG (``--screenshot``)
    cli              the ``phasebrush transform|invert|retrieve|...`` commands (no Qt)
    axes             axis labels and read-outs (frequency, period, calibrated peak width)
    long_display, long_inverse  a long recording's images and block-wise inverse
    selection_inverse  the short path's incremental inverse of the layers
    indices_view     the Indices tab: per-column row intervals, their export
    help_dialogs, shortcuts  the Help menu; shortcut texts from the actions
    spacing_dialog   sample rate / spacing of a file without an axis
    soon             a call after the current event, before its repaint
    audio, playback_bar, coherence_view, heatmap_dialog, ridge_dialog, session_io,
    export, jcamp_block_dialog, linked_viewbox, slot_guard, qt_fixes, worker  (as named)
"""
