"""PhaseBrush desktop app (PySide6 + pyqtgraph).

Modules:
    main             entry point ``phasebrush`` (GUI; CLI subcommands go to app.cli)
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
"""
