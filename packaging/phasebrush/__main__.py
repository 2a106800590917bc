"""``python -m phasebrush``: the same as the ``phasebrush`` command."""

import sys

from phasebrush.app.main import main

sys.exit(main())
