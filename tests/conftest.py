"""Settings shared by the whole suite."""

import os

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples on every run (derandomize), so a
# submission is judged on its own change; locally they keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def no_transform(monkeypatch):
    """Every call of core.transforms.transform (args), recorded; the calls still run."""
    import core.transforms as T

    calls = []
    real = T.transform

    def spy(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(T, "transform", spy)
    return calls
