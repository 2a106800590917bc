"""``python -m phasebrush.cli``: the same as ``phasebrush transform|invert|retrieve``."""

import sys

from phasebrush.cli.main import main

sys.exit(main())
