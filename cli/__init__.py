"""The command-line interface: ``phasebrush transform|invert|retrieve|batch``.

:mod:`phasebrush.cli.main` builds the parser and runs a command line;
:mod:`phasebrush.cli.commands` holds the single-item commands and
:mod:`phasebrush.cli.batch` the dataset runner. They import core only, never Qt
(tests/core/test_core_is_qt_free.py), so scripts and batch jobs start fast and
run headless; the ``phasebrush`` entry point hands a command line to it before
anything of the GUI loads.
"""
