"""Layer list (visibility, names, colours) and the paint-tool options."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

__all__ = ["LayerPanel"]


def _swatch(color: str) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(QColor(color))
    return QIcon(pm)


class LayerPanel(QWidget):
    """Lists the LayerModel's layers; edits go back to the model (so they undo).

    Signals
    -------
    brush_size_changed(int), brush_erase_changed(bool)
    """

    brush_size_changed = Signal(int)
    brush_erase_changed = Signal(bool)

    def __init__(self, layers, parent=None):
        super().__init__(parent)
        self.layers = layers
        self.list = QListWidget()
        self.list.setToolTip("Bands and painted masks. Tick to show / include in the "
                             "selection; double-click to rename; select one to paint on it")
        self.list.setMinimumHeight(48)
        b = {}
        for key, text, tip in (
                ("new", "New mask", "Add an empty painted mask layer"),
                ("color", "Colour…", "Choose the selected layer's colour"),
                ("delete", "Delete", "Remove the selected layer (undoable)"),
                ("clear", "Clear all", "Remove every layer (one undo step)"),
                ("invert", "Invert selection", "Replace the selection by its complement: "
                 "the visible layers are hidden and a mask of everything else is added")):
            btn = QPushButton(text)
            btn.setToolTip(tip)
            b[key] = btn
        self.buttons = b
        grid = QGridLayout()
        grid.addWidget(b["new"], 0, 0)
        grid.addWidget(b["color"], 0, 1)
        grid.addWidget(b["delete"], 0, 2)
        grid.addWidget(b["clear"], 1, 0)
        grid.addWidget(b["invert"], 1, 1, 1, 2)

        self.brush_size = QSpinBox()
        self.brush_size.setRange(1, 200)
        self.brush_size.setValue(12)
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush diameter in screen pixels (P)")
        self.add_mode = QRadioButton("add")
        self.erase_mode = QRadioButton("erase")
        self.add_mode.setChecked(True)
        self.add_mode.setToolTip("Brush paints cells into the mask (Shift forces add)")
        self.erase_mode.setToolTip("Brush removes cells from the mask (Alt forces erase)")
        group = QButtonGroup(self)
        group.addButton(self.add_mode)
        group.addButton(self.erase_mode)
        brow = QHBoxLayout()
        brow.addWidget(QLabel("Brush"))
        brow.addWidget(self.brush_size)
        brow.addWidget(self.add_mode)
        brow.addWidget(self.erase_mode)
        brow.addStretch(1)

        lay = QVBoxLayout(self)
        lay.addWidget(self.list, 1)
        lay.addLayout(grid)
        lay.addLayout(brow)

        b["new"].clicked.connect(lambda: layers.add_paint_layer() if layers.tfr is not None
                                 else None)
        b["delete"].clicked.connect(self.delete_current)
        b["clear"].clicked.connect(layers.clear)
        b["invert"].clicked.connect(layers.invert_selection)
        b["color"].clicked.connect(self._on_color)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentRowChanged.connect(self._on_current_row)
        self.brush_size.valueChanged.connect(self.brush_size_changed)
        self.erase_mode.toggled.connect(self.brush_erase_changed)
        layers.layers_changed.connect(self._on_layers_changed)
        layers.active_changed.connect(self._on_active_changed)
        self._on_layers_changed()

    def _on_layers_changed(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for lay in self.layers:
            kind = "band" if lay.is_band else "mask"
            it = QListWidgetItem(_swatch(lay.color), lay.name)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
            it.setCheckState(Qt.CheckState.Checked if lay.visible else Qt.CheckState.Unchecked)
            n = lay.n_cells()
            it.setToolTip(f"{kind}: {n} cells selected")
            self.list.addItem(it)
        self.list.setCurrentRow(self.layers.active_index)
        self.list.blockSignals(False)

    def _on_active_changed(self, index: int) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentRow(index)
        self.list.blockSignals(False)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        i = self.list.row(item)
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != self.layers[i].visible:
            self.layers.set_visible(i, visible)
        elif item.text() != self.layers[i].name:
            self.layers.rename(i, item.text())

    def _on_current_row(self, row: int) -> None:
        self.layers.set_active(row)

    def delete_current(self) -> None:
        """Remove the layer selected in the list (one undo step); nothing when none is."""
        i = self.list.currentRow()
        if 0 <= i < len(self.layers):
            self.layers.remove(i)

    def _on_color(self) -> None:
        i = self.list.currentRow()
        if not 0 <= i < len(self.layers):
            return
        c = QColorDialog.getColor(QColor(self.layers[i].color), self, "Layer colour")
        if c.isValid():
            self.layers.set_color(i, c.name())
