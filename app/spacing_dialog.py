"""Ask what a file without an x axis is sampled at: samples, a rate in Hz, or a spacing.

A text file with one column, a 1-D ``.npy`` or an ``.npz`` without ``x`` holds
values and nothing about how far apart they are (``core.io.signals.needs_spacing``).
:class:`SpacingDialog` asks, and :meth:`SpacingDialog.options` gives the
``core.io.signals.load_signal`` keywords for the answer. The last answer is kept in
QSettings (:func:`remembered`, :func:`remember`) and offered for the next such
file.
"""

from __future__ import annotations

import math

from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
)

__all__ = ["SpacingDialog", "MODES", "UNITS", "remembered", "remember"]

#: samples: 1 apart, no unit; rate: Hz, the axis in seconds; spacing: dx in a unit.
MODES = ("samples", "rate", "spacing")
UNITS = ("s", "ms", "cm^-1", "nm", "µm", "ppm", "Hz")
_KEY = "raw_axis"
_DEFAULT = {"mode": "samples", "rate": 8000.0, "dx": 1.0, "unit": "s"}


def remembered(settings) -> dict:
    """The last answer kept in ``settings`` (mode, rate, dx, unit); defaults where none."""
    state = dict(_DEFAULT)
    if settings is None:
        return state
    mode = str(settings.value(f"{_KEY}/mode", state["mode"]))
    state["mode"] = mode if mode in MODES else "samples"
    for key in ("rate", "dx"):
        try:
            v = float(settings.value(f"{_KEY}/{key}", state[key]))
        except (TypeError, ValueError):
            continue
        if math.isfinite(v) and v > 0:
            state[key] = v
    state["unit"] = str(settings.value(f"{_KEY}/unit", state["unit"]))
    return state


def remember(settings, state: dict) -> None:
    """Keep ``state`` (as :meth:`SpacingDialog.state` gives it) for the next file."""
    for key in ("mode", "rate", "dx", "unit"):
        settings.setValue(f"{_KEY}/{key}", state[key])


def _number(text: str) -> float | None:
    try:
        v = float(text.replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) and v > 0 else None


class SpacingDialog(QDialog):
    """"How far apart are these samples?" for a file with no x axis.

    Parameters
    ----------
    name : str
        The file's name, for the question.
    state : dict or None
        The answer to preselect (:func:`remembered`); None: samples.
    """

    def __init__(self, name: str, state: dict | None = None, parent=None):
        super().__init__(parent)
        state = {**_DEFAULT, **(state or {})}
        self.setWindowTitle("Sample spacing")
        question = QLabel(f"<b>{name}</b> holds values with no x axis: nothing in it says "
                          "how far apart they are. What are they sampled at?")
        question.setWordWrap(True)
        self.samples_button = QRadioButton("Samples: the axis counts them (no unit)")
        self.rate_button = QRadioButton("Sample rate:")
        self.spacing_button = QRadioButton("Spacing:")
        self.buttons = {"samples": self.samples_button, "rate": self.rate_button,
                        "spacing": self.spacing_button}
        group = QButtonGroup(self)
        for b in self.buttons.values():
            group.addButton(b)
        self.rate = QLineEdit(f"{state['rate']:g}")
        self.rate.setToolTip("Samples per second (Hz): the axis is time in seconds")
        self.dx = QLineEdit(f"{state['dx']:g}")
        self.dx.setToolTip("The step from one sample to the next, in the unit beside it")
        for edit in (self.rate, self.dx):
            v = QDoubleValidator(self)
            v.setBottom(0.0)
            v.setNotation(QDoubleValidator.Notation.ScientificNotation)
            edit.setValidator(v)
        self.unit = QComboBox()
        self.unit.setEditable(True)
        self.unit.addItems(list(UNITS))
        self.unit.setCurrentText(state["unit"])
        self.unit.setToolTip("The axis unit: s, ms, cm^-1, nm, ppm ... (any text)")
        grid = QGridLayout()
        grid.addWidget(self.samples_button, 0, 0, 1, 4)
        grid.addWidget(self.rate_button, 1, 0)
        grid.addWidget(self.rate, 1, 1)
        grid.addWidget(QLabel("Hz (time in seconds)"), 1, 2, 1, 2)
        grid.addWidget(self.spacing_button, 2, 0)
        grid.addWidget(self.dx, 2, 1)
        grid.addWidget(QLabel("per sample, unit"), 2, 2)
        grid.addWidget(self.unit, 2, 3)
        note = QLabel("The answer is offered again for the next file like this one.")
        note.setWordWrap(True)
        self.box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                    | QDialogButtonBox.StandardButton.Cancel)
        self.box.accepted.connect(self.accept)
        self.box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(question)
        lay.addLayout(grid)
        lay.addWidget(note)
        lay.addWidget(self.box)
        self.buttons.get(state["mode"], self.samples_button).setChecked(True)
        for w in (self.rate, self.dx):
            w.textChanged.connect(self._update)
        self.unit.currentTextChanged.connect(self._update)
        group.buttonToggled.connect(self._update)
        self._update()

    def choose(self, mode: str, *, rate: float | None = None, dx: float | None = None,
               unit: str | None = None) -> None:
        """Set the answer (as a user would click and type it)."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.buttons[mode].setChecked(True)
        if rate is not None:
            self.rate.setText(f"{rate:g}")
        if dx is not None:
            self.dx.setText(f"{dx:g}")
        if unit is not None:
            self.unit.setCurrentText(unit)

    def mode(self) -> str:
        return next(m for m, b in self.buttons.items() if b.isChecked())

    def options(self) -> dict | None:
        """The ``load_signal`` keywords for the answer ({} for samples); None if invalid."""
        mode = self.mode()
        if mode == "samples":
            return {}
        if mode == "rate":
            rate = _number(self.rate.text())
            return None if rate is None else {"rate": rate}
        dx = _number(self.dx.text())
        return None if dx is None else {"dx": dx, "unit": self.unit.currentText().strip()}

    def state(self) -> dict:
        """The answer as :func:`remember` keeps it."""
        state = {"mode": self.mode(), "unit": self.unit.currentText().strip()}
        for key, edit in (("rate", self.rate), ("dx", self.dx)):
            state[key] = _number(edit.text()) or _DEFAULT[key]
        return state

    def _update(self, *_):
        mode = self.mode()
        self.rate.setEnabled(mode == "rate")
        self.dx.setEnabled(mode == "spacing")
        self.unit.setEnabled(mode == "spacing")
        ok = self.box.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.options() is not None)
