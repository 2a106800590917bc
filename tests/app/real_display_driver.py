"""The real app on a real X display, driven by real pointer and key events.

Run by tests/app/test_real_display.py under ``xvfb-run``: starts PhaseBrush as
the ``phasebrush`` command does (:func:`app.main.main`, platform xcb, so every
library Qt's xcb plugin needs must load), waits for the first image, then
moves the X pointer and presses keys with ``xdotool``: B (band tool), three
clicks along the top of a band, Return, two along its bottom, Return. It
prints ``RESULT`` lines (what the window shows) and quits with Ctrl+Q.
"""

from __future__ import annotations

import os
import subprocess
import time

os.environ["QT_QPA_PLATFORM"] = "xcb"

TIMEOUT_S = 150
TICK_MS = 300          # one X action per tick, the events handled in between


def _xdo(*args) -> None:
    subprocess.run(["xdotool", *map(str, args)], check=True, timeout=20)


def _window():
    from PySide6.QtWidgets import QApplication

    from phasebrush.app.main_window import MainWindow

    for w in QApplication.topLevelWidgets():
        if isinstance(w, MainWindow):
            return w
    return None


def main() -> None:
    from PySide6.QtCore import QTimer

    from phasebrush.app import main as entry

    app = entry._application()
    # clicks a tick apart are separate clicks, not a double click (which ends an edge)
    app.styleHints().setMouseDoubleClickInterval(TICK_MS // 3)
    state = {"step": 0, "queue": [], "t0": time.monotonic()}

    def tick():
        if time.monotonic() - state["t0"] > TIMEOUT_S:
            print(f"RESULT timeout at step {state['step']}", flush=True)
            os._exit(3)
        win = _window()
        if win is None or not win.isVisible() or win.doc.tfr is None or win.doc.busy:
            return
        if state["queue"]:
            _xdo(*state["queue"].pop(0))
            return
        view, doc = win.tfr_view, win.doc
        step = state["step"]
        state["step"] += 1
        if step == 0:
            print(f"RESULT image {doc.tfr.n_rows} x {doc.tfr.n_frames}", flush=True)
            T = doc.signal.x[-1]

            def screen(t, f):
                p = view.viewport().mapToGlobal(view.data_to_widget(t * T, f))
                return p.x(), p.y()

            q = [("windowfocus", "--sync", int(win.winId())),
                 ("mousemove", *screen(0.5, 100.0)), ("key", "b")]
            for t, f in ((0.2, 60.0), (0.5, 300.0), (0.8, 600.0)):
                q += [("mousemove", *screen(t, f)), ("click", 1)]
            q.append(("key", "Return"))
            for t, f in ((0.2, 15.0), (0.8, 150.0)):
                q += [("mousemove", *screen(t, f)), ("click", 1)]
            q.append(("key", "Return"))
            state["queue"] = q
        elif step == 1:
            bands = [lay for lay in doc.layers if lay.is_band]
            verts = [len(b.upper) + len(b.lower) for b in bands]
            print(f"RESULT tool {view.tool} bands {len(bands)} vertices {verts} "
                  f"inverse {doc.inversion is not None}", flush=True)
            win.confirm_close = False          # no "save changes?" box on the way out
            state["queue"] = [("key", "ctrl+q")]

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(TICK_MS)
    rc = entry.main(["--demo", "chirp"])
    print(f"RESULT exit {rc}", flush=True)


if __name__ == "__main__":
    main()
