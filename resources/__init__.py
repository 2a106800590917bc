"""Data, not code: the demo recordings, spectra and licences PhaseBrush ships.

A package only so that ``importlib.resources.files("phasebrush.resources")``
finds it wherever PhaseBrush is installed (see resources/README.md).
"""
