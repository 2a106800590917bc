"""``phasebrush``: the desktop app, or the CLI when the first argument is a subcommand.

    phasebrush                     the app on the chirp demo
    phasebrush FILE                the app on a file
    phasebrush --demo speech       the app on a demo (chirp, speech, ir)
    phasebrush --screenshot P.png  render the window (chirp, a band, a short retrieval)
    phasebrush FILE --screenshot P.png   the window on FILE once its first complete image is drawn
    phasebrush --screenshot P.png --scene spectrum|heatmap   other scenes (app.screenshot)
    phasebrush transform|invert|retrieve|batch ...   the command-line tools (cli.main)

Qt is imported only on the GUI path and torch only when a retrieval starts,
so the window appears fast and the CLI never loads Qt.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main", "build_parser", "CLI_COMMANDS"]

CLI_COMMANDS = ("transform", "invert", "retrieve", "batch")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="phasebrush",
        description="See a 1-D signal in time-frequency, paint a region, get that region back "
                    "as a signal; recover signals from magnitudes. Command-line tools: "
                    f"phasebrush {{{','.join(CLI_COMMANDS)}}} --help")
    p.add_argument("file", nargs="?", help="signal file to open (audio, CSV, NPY/NPZ, JCAMP-DX)")
    p.add_argument("--demo", choices=("chirp", "speech", "ir"),
                   help="open a demo signal (default when no file is given: chirp)")
    p.add_argument("--screenshot", metavar="PATH",
                   help="render the main window (chirp demo, a band, a short retrieval) "
                        "to a PNG at 1280x800 and exit")
    p.add_argument("--scene", choices=("main", "spectrum", "heatmap"),
                   help="with --screenshot: main (chirp, band, retrieval; the default), "
                        "spectrum (ethanol IR, reversed axis, a band and its inversion), "
                        "heatmap (chirp with a heatmap-derived mask and its attribution); "
                        "--demo ir alone picks spectrum")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run PhaseBrush; returns the process exit status.

    Called with ``argv=None`` (the ``phasebrush`` command) the GUI path ends
    the process itself once the window has closed: see :func:`_end_process`.
    """
    standalone = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        from phasebrush.cli import main as cli  # no Qt on this path

        return cli.main(argv)
    args = build_parser().parse_args(argv)
    if args.screenshot:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from phasebrush.app.screenshot import render_file_screenshot, render_screenshot

        app = _application()
        if args.file:
            try:
                path = render_file_screenshot(args.file, args.screenshot)
            except RuntimeError as exc:
                print(f"phasebrush: {exc}", file=sys.stderr)
                return 1
        else:
            scene = args.scene or ("spectrum" if args.demo == "ir" else "main")
            path = render_screenshot(args.screenshot, scene=scene)
        print(f"wrote {path}")
        app.processEvents()
        if standalone:
            _end_process(0)
        return 0

    app = _application()
    from phasebrush.app.main_window import MainWindow

    win = MainWindow()
    win.show()
    if args.file:
        if not win.open_path(args.file):
            win.open_demo(args.demo or "chirp")
    else:
        win.open_demo(args.demo or "chirp")
    rc = app.exec()
    if standalone:
        _end_process(rc)
    return rc


def _end_process(rc: int) -> None:
    """Leave at once after the window closed, skipping interpreter teardown.

    The window has already cancelled its work and saved nothing half-way; what
    is left is Python's teardown of torch and numba (imported by ssqueezepy),
    about 2 s on every exit, which would make closing the window feel hung.
    The window has waited for its workers already; one that is still running
    (ssqueezepy's one-off compile cannot be interrupted) gets a last moment,
    then os._exit ends the process without destroying its QThread (which is
    what makes Qt abort).
    """
    from phasebrush.app.worker import running_workers, stop_all

    stop_all(running_workers(), timeout_ms=150)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def _application():
    os.environ.setdefault("QT_API", "pyside6")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from phasebrush.app.qt_fixes import collect_garbage_in_gui_thread, guard_bool_refcount

    guard_bool_refcount()

    pg.setConfigOptions(imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("PhaseBrush")
    app.setOrganizationName("PhaseBrush")
    collect_garbage_in_gui_thread()
    return app


if __name__ == "__main__":
    sys.exit(main())
