"""The command-line interface: ``phasebrush transform|invert|retrieve``.

:mod:`phasebrush.cli.main` holds the commands. It imports core only, never Qt
(tests/core/test_core_is_qt_free.py), so scripts and batch jobs start fast and
run headless; the ``phasebrush`` entry point hands a command line to it before
anything of the GUI loads.
"""
