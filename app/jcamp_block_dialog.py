"""Choose one block of a multi-block (LINK) JCAMP-DX file.

:func:`choose_jcamp_block` lists the blocks (title, data type, points); the
blocks without x/y data (peak tables, structures) are shown but cannot be
chosen. A file with a single spectrum is not asked about.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from phasebrush.core.io.jcamp import jcamp_blocks

__all__ = ["JcampBlockDialog", "choose_jcamp_block", "describe_block"]


def describe_block(block) -> str:
    """"1: synthetic IR (SQZ) — INFRARED SPECTRUM, 120 points"."""
    title = block.title or "(untitled)"
    kind = block.data_type or "unknown data type"
    what = f"{block.n_points} points" if block.has_xy else "no x/y data"
    return f"{block.index}: {title} — {kind}, {what}"


class JcampBlockDialog(QDialog):
    """A list of a JCAMP-DX file's blocks; OK returns the chosen one.

    Parameters
    ----------
    path : str or Path
        Named in the title and the prompt.
    blocks : sequence of core.io.jcamp.JcampBlock
    """

    def __init__(self, path, blocks, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose a spectrum")
        self.blocks = list(blocks)
        prompt = QLabel(f"{path} holds {len(self.blocks)} blocks. Which spectrum do you want "
                        "to open?", self)
        prompt.setWordWrap(True)
        self.list = QListWidget(self)
        first = None
        for b in self.blocks:
            item = QListWidgetItem(describe_block(b))
            if not b.has_xy:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled
                              & ~Qt.ItemFlag.ItemIsSelectable)
                item.setToolTip("This block holds no spectrum (x/y data) to open")
            elif first is None:
                first = b.index
            self.list.addItem(item)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.currentRowChanged.connect(self._update_ok)
        lay = QVBoxLayout(self)
        lay.addWidget(prompt)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.buttons)
        if first is not None:
            self.list.setCurrentRow(first)
        self._update_ok()
        self.resize(520, 260)

    def chosen(self) -> int | None:
        """Index of the selected block (with x/y data), or None."""
        row = self.list.currentRow()
        if 0 <= row < len(self.blocks) and self.blocks[row].has_xy:
            return self.blocks[row].index
        return None

    def _update_ok(self, *_):
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self.chosen() is not None)


def choose_jcamp_block(parent, path, *, blocks=None) -> int | None:
    """The block of ``path`` to load: asked only when more than one has x/y data.

    Returns
    -------
    int or None
        The block index for ``load_signal(path, block=...)``; the only
        spectrum's index without asking; None when the user cancelled.

    Raises
    ------
    core.errors.LoadError
        The file cannot be parsed, or has no block with x/y data.
    """
    from phasebrush.core.errors import LoadError

    blocks = list(jcamp_blocks(path) if blocks is None else blocks)
    with_xy = [b for b in blocks if b.has_xy]
    if not with_xy:
        raise LoadError(path, "no block of this JCAMP-DX file holds a spectrum (x/y data)")
    if len(with_xy) == 1:
        return with_xy[0].index
    dlg = JcampBlockDialog(path, blocks, parent)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return dlg.chosen()
