"""``phasebrush transform|invert|retrieve|batch``: the command line's entry point.

The single-item commands are :mod:`phasebrush.cli.commands`, the dataset runner
:mod:`phasebrush.cli.batch`; this module only builds the whole parser and runs a
command line, so batch can reuse the single-item commands without an import loop.
"""

from __future__ import annotations

import signal as _signal
import sys
import threading

from phasebrush.cli.commands import (
    COMMANDS,
    INTERRUPTED,
    _terminate_as_interrupt,
    add_parsers,
    new_parser,
)

__all__ = ["main", "build_parser", "COMMANDS", "INTERRUPTED"]


def build_parser():
    """The whole parser: transform, invert, retrieve and batch."""
    from phasebrush.cli.batch.command import add_parser as add_batch_parser

    parser, sub, common = new_parser()
    add_parsers(sub, common)
    add_batch_parser(sub, common)
    return parser


def main(argv=None) -> int:
    """Run one command; returns the exit status (0, 2 for an error, 130 when interrupted)."""
    from phasebrush.core.errors import PhaseBrushError

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = _signal.signal(_signal.SIGTERM, _terminate_as_interrupt)
    try:
        return args.func(args)
    except PhaseBrushError as exc:
        # one line, whatever the message holds
        print(f"phasebrush: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        # core refuses what will not fit (OutOfMemoryError, above); this is the rest
        detail = f" ({exc})" if str(exc) else ""
        print(f"phasebrush: error: not enough memory for {args.command} of {args.input}"
              f"{detail}; try a shorter signal or fewer rows/frames", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nphasebrush: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        if previous is not None:
            _signal.signal(_signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
