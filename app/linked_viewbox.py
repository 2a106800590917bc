"""A ViewBox whose x link lines plots up correctly when the x axis is reversed.

pyqtgraph 0.14's ``ViewBox.linkedViewChanged`` aligns two linked plots of
different widths by their screen positions, but for an inverted x axis it
adds the right-edge offset where it must subtract it, so a spectrum plot
(reversed wavenumbers) and its image, whose widths differ by the colour
bar, showed different ranges. This subclass does the x alignment with the
sign that follows from "screen x grows as data x falls".
"""

from __future__ import annotations

import pyqtgraph as pg

__all__ = ["LinkedViewBox"]


class LinkedViewBox(pg.ViewBox):
    """``pg.ViewBox`` with a reversed-x-safe :meth:`linkedViewChanged`."""

    def linkedViewChanged(self, view, axis):
        if axis != pg.ViewBox.XAxis or not self.xInverted() or self.linksBlocked or view is None:
            return super().linkedViewChanged(view, axis)
        vr, vg, sg = view.viewRect(), view.screenGeometry(), self.screenGeometry()
        if vg is None or sg is None:
            return None
        view.blockLink(True)
        try:
            overlap = min(sg.right(), vg.right()) - max(sg.left(), vg.left())
            if overlap < min(vg.width() / 3, sg.width() / 3):
                x1, x2 = vr.left(), vr.right()
            else:
                upp = float(vr.width()) / vg.width()
                # Reversed: the right edge of the screen holds the smallest x.
                x1 = vr.left() - (sg.right() - vg.right()) * upp
                x2 = x1 + sg.width() * upp
            self.enableAutoRange(pg.ViewBox.XAxis, False)
            self.setXRange(x1, x2, padding=0)
        finally:
            view.blockLink(False)
        return None
