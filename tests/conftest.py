"""Settings shared by the whole suite."""

import os

from hypothesis import settings

# In CI the property tests draw the same examples on every run (derandomize), so a
# submission is judged on its own change; locally they keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
