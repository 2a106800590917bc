"""``phasebrush --screenshot``: the window with a band and a finished retrieval, as a PNG."""

from __future__ import annotations

from PySide6.QtGui import QImage


def test_render_screenshot_writes_a_1280x800_png(qtbot, tmp_path):
    from phasebrush.app.screenshot import render_screenshot

    path = render_screenshot(tmp_path / "shot.png", n_iter=3)
    img = QImage(str(path))
    assert not img.isNull()
    assert (img.width(), img.height()) == (1280, 800)
    # Not a blank grab: many distinct colours (image, curves, widgets).
    colours = {img.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
    assert len(colours) > 50


def test_heatmap_scene_shows_the_imported_mask_and_its_attribution(qtbot, tmp_path):
    from phasebrush.app.screenshot import render_screenshot

    path = render_screenshot(tmp_path / "heat.png", scene="heatmap")
    img = QImage(str(path))
    assert (img.width(), img.height()) == (1280, 800)
    colours = {img.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
    assert len(colours) > 50


def test_scene_option_is_parsed():
    from phasebrush.app.main import build_parser

    args = build_parser().parse_args(["--screenshot", "x.png", "--scene", "spectrum"])
    assert args.scene == "spectrum"
