"""Keyboard shortcuts read from the actions themselves: tooltips, the list, clashes.

Nothing here holds a table of keys: every function reads a window's (or a
menu's) ``QAction`` objects, so the tooltips and the Help ▸ Keyboard shortcuts
list stay true when an action's shortcut changes.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QAction, QKeySequence

__all__ = ["shortcut_text", "tip_with_shortcut", "name_shortcuts", "shortcut_rows",
           "shortcut_clashes", "plain_text"]

_NATIVE = QKeySequence.SequenceFormat.NativeText


def shortcut_text(action: QAction) -> str:
    """The action's shortcuts as the user types them ("Ctrl+Z, Ctrl+Y"); "" if none."""
    return ", ".join(s.toString(_NATIVE) for s in action.shortcuts() if not s.isEmpty())


def tip_with_shortcut(text: str, action: QAction | None = None, *, keys: str = "") -> str:
    """``text`` ending in "(keys)", unless it holds that "(keys)" already.

    ``keys`` defaults to the action's shortcuts (:func:`shortcut_text`).
    """
    keys = keys or (shortcut_text(action) if action is not None else "")
    if not keys or f"({keys})" in text:
        return text
    return f"{text} ({keys})"


def name_shortcuts(actions) -> None:
    """Append each action's shortcut to its tooltip (and status tip) where missing."""
    for act in actions:
        keys = shortcut_text(act)
        if not keys:
            continue
        act.setToolTip(tip_with_shortcut(act.toolTip() or plain_text(act.text()), keys=keys))
        if act.statusTip():
            act.setStatusTip(tip_with_shortcut(act.statusTip(), keys=keys))


def plain_text(text: str, keys: str = "") -> str:
    """A menu text without its mnemonic ``&``, a trailing "…", and a trailing
    "(keys)" when the text repeats its own shortcut ("Band (B)")."""
    text = re.sub(r"&(.)", r"\1", text).rstrip("…").strip()
    if keys and text.endswith(f"({keys})"):
        text = text[:-len(keys) - 2].rstrip()
    return text


def _walk(menu, path, seen, rows) -> None:
    for act in menu.actions():
        if act.isSeparator():
            continue
        sub = act.menu()
        if sub is not None:
            _walk(sub, path + [plain_text(sub.title())], seen, rows)
            continue
        keys = shortcut_text(act)
        if not keys or id(act) in seen:
            continue
        seen.add(id(act))
        rows.append((" ▸ ".join(path), plain_text(act.iconText(), keys), keys))


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(where, what, keys) for every action of ``window`` that has a shortcut.

    ``where`` is the menu path ("File ▸ Export"); actions found in no menu
    (e.g. a panel's own) come last under "Window". ``what`` is the action's
    icon text: its menu text unless set apart (Undo, whose text names the step).
    """
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    bar = window.menuBar()
    for act in bar.actions():
        if act.menu() is not None:
            _walk(act.menu(), [plain_text(act.menu().title())], seen, rows)
    for act in window.findChildren(QAction):
        keys = shortcut_text(act)
        if keys and id(act) not in seen:
            seen.add(id(act))
            rows.append(("Window", plain_text(act.iconText(), keys), keys))
    return rows


def shortcut_clashes(window) -> dict[str, list[str]]:
    """Key sequences that more than one action of ``window`` claims -> their texts."""
    owners: dict[str, list[QAction]] = {}
    for act in window.findChildren(QAction):
        for seq in act.shortcuts():
            if seq.isEmpty():
                continue
            key = seq.toString(QKeySequence.SequenceFormat.PortableText)
            if all(a is not act for a in owners.get(key, [])):
                owners.setdefault(key, []).append(act)
    return {k: [plain_text(a.text()) for a in v] for k, v in owners.items() if len(v) > 1}
