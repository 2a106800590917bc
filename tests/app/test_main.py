"""Entry point: CLI delegation without Qt, files, bad input, recent files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

ROOT = Path(__file__).resolve().parents[2]


def test_cli_subcommand_does_not_import_qt():
    code = (
        "import sys, types\n"
        "fake = types.ModuleType('phasebrush.cli.main')\n"
        "fake.main = lambda argv: print('CLI', argv) or 7\n"
        "sys.modules['phasebrush.cli.main'] = fake\n"
        "import phasebrush.cli; phasebrush.cli.main = fake\n"
        "from phasebrush.app.main import main\n"
        "rc = main(['transform', 'x.wav', '--kind', 'stft'])\n"
        "print('rc', rc, 'qt', 'PySide6' in sys.modules, 'torch', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "CLI ['transform', 'x.wav', '--kind', 'stft']" in out.stdout
    assert "rc 7 qt False torch False" in out.stdout


def test_gui_modules_do_not_import_torch():
    code = ("import sys\n"
            "import phasebrush.app.main_window, phasebrush.app.document\n"
            "import phasebrush.app.retrieval_panel\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_bad_file_shows_a_message_naming_it(qtbot, window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a, **k: shown.append(text)))
    window.error_dialogs = True
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    before = window.doc.signal
    assert window.open_path(bad) is False
    assert len(shown) == 1 and "broken.wav" in shown[0]
    assert "Traceback" not in shown[0]
    assert window.doc.signal is before           # the old document is untouched
    assert "broken.wav" in window.statusBar().currentMessage()


def test_open_file_and_recent_files(qtbot, window, tmp_path):
    path = tmp_path / "ramp.csv"
    t = np.arange(600) / 600.0
    path.write_text("\n".join(f"{v:.6f}" for v in np.sin(2 * np.pi * 25 * t)))
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(path)
    assert window.doc.signal.n == 600
    assert window.recent_files()[0] == str(path.resolve())
    names = [a.text() for a in window.recent_menu.actions()]
    assert "ramp.csv" in names


def test_every_control_has_a_tooltip(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QListWidget,
    )

    missing = []
    for panel in (window.transform_panel, window.layer_panel, window.retrieval_panel,
                  window.signal_view):
        for cls in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QListWidget):
            for w in panel.findChildren(cls):
                if not w.toolTip() and w.objectName() != "qt_spinbox_lineedit":
                    label = w.text() if hasattr(w, "text") else ""
                    missing.append(f"{type(panel).__name__}: {type(w).__name__} {label}")
    for act in window.tool_actions.values():
        assert act.toolTip()
    assert not missing, missing


def test_export_selection_inverse_round_trips(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from phasebrush.core.io.signals import load_signal

    doc = window.doc
    T = doc.signal.x[-1]
    doc.layers.add_band([(0.2 * T, 60.0), (0.8 * T, 200.0)], [(0.2 * T, 20.0), (0.8 * T, 80.0)])
    out = tmp_path / "selection.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(out), "CSV (*.csv)")))
    window.export_selection()
    assert out.exists()
    back = load_signal(out)
    assert back.n == doc.signal.n
    assert np.allclose(back.y, doc.inversion, atol=1e-6 * np.abs(doc.inversion).max())
