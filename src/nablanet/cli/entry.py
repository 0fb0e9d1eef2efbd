"""The entry point of `nablanet`: parse the arguments, run the subcommand, report a user's mistake in one line."""

from __future__ import annotations

import contextlib
import sys
import warnings

from nablanet import runtime
from nablanet.cli.parser import build_parser


def main(argv=None) -> int:
    """Run the `nablanet` command with ``argv`` (default: the process's arguments); return the exit status.

    A user's mistake (a missing file, an unknown config key, data of the wrong shape, labels that do
    not fit the loss, a model too large for the memory) ends the command with one line on stderr naming
    the problem and exit status 1; so does running out of memory. Argparse usage errors exit with 2.
    Other exceptions are bugs and keep their traceback; ``--debug`` shows the traceback of user errors too.
    """
    parser = build_parser()
    args = parser.parse_args(_expand_alias(sys.argv[1:] if argv is None else [str(a) for a in argv]))
    if args.command is None:
        parser.print_help()
        return 0
    try:
        # The command owns its process, so it opts into what a library call may not change unasked:
        # BLAS threads (matrix products this small are fastest on one) and fast math (runtime.fast_math).
        with runtime.blas_threads(getattr(args, "threads", 1)), runtime.fast_math(), _warnings_as_lines(args.command):
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"nablanet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug or not _is_user_error(error):
            raise
        print(f"nablanet {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Show each warning as one line, ``nablanet COMMAND: warning: ...``, not Python's file:line format.

    The command owns its process, so it may replace how warnings are shown; the library itself never does.
    """
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"nablanet {command}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _expand_alias(argv: list) -> list:
    """`nablanet autodiff ...` is `nablanet demo autodiff ...` (the command of the first release)."""
    position = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if position is not None and argv[position] == "autodiff":
        return argv[:position] + ["demo"] + argv[position:]
    return argv


def _is_user_error(error: Exception) -> bool:
    """Mistakes in what the user gave (files, keys, data), as opposed to bugs, which keep their traceback."""
    from nablanet.train import TrainingDivergedError

    if isinstance(error, ImportError):
        # A missing optional dependency: the library's message says which extra to install.
        return "pip install" in str(error)
    # Running out of memory is the size the user asked for (layers, batches, data), not a bug.
    return isinstance(error, (ValueError, KeyError, OSError, TrainingDivergedError, MemoryError))


def _one_line(error: Exception) -> str:
    from nablanet.nn import ModelTooLargeError

    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    elif isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    elif isinstance(error, MemoryError) and not isinstance(error, ModelTooLargeError):
        # NumPy's message names the array it could not allocate; a bare MemoryError has none.
        cause = f" ({error})" if str(error) else ""
        text = f"out of memory{cause}; smaller layers, batches (train.batch_size) or data need less"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
