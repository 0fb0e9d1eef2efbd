"""What every demo shares: its command line, its output folder, its figures and its tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["DEFAULT_OUT", "command_line", "example_parser", "save_example_figure", "format_table", "output_directory",
           "progress_bar", "save_figure"]

DEFAULT_OUT = Path("nablanet-demos")


def command_line(run, argv=None, *, prog: str, description: str) -> int:
    """Parse ``--out DIR --quick --seed N`` from ``argv`` and call ``run(out, quick=..., seed=...)``.

    The shared ``main`` of every demo, so they all take the same options.

    Returns:
        0, the process exit status (errors propagate as exceptions with their own message).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"directory for the PNG files, created if missing (default: ./{DEFAULT_OUT}/)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller run that takes a few seconds and still shows the claim")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw in the demo (default: 0)")
    args = parser.parse_args(argv)
    run(args.out, quick=args.quick, seed=args.seed)
    return 0


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be non-negative, got {seed}")
    return seed


def example_parser(description: str, *, quick: str, plot: str) -> argparse.ArgumentParser:
    """The options the longer scripts of ``examples/`` share: ``--seed N``, ``--quick`` and ``--plot PATH``.

    Each script adds its own options to the parser returned. A negative or non-integer seed is refused
    with ``argument --seed: must be non-negative, got -1``.

    Args:
        description: the script's one-line summary, for ``--help``.
        quick: what ``--quick`` runs instead of the full experiment (its help).
        plot: what ``--plot PATH`` draws (its help).

    Returns:
        The argparse parser.

    Example:
        >>> parser = example_parser("demo", quick="fewer epochs", plot="the curves")
        >>> args = parser.parse_args(["--quick", "--seed", "3"])
        >>> args.seed, args.quick, args.plot
        (3, True, None)
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=_seed, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--plot", metavar="PATH", default=None, help=f"draw {plot} to PATH (needs matplotlib)")
    return parser


def save_example_figure(figure, path) -> Path:
    """Write ``figure`` to the file ``path`` of an example's ``--plot`` (atomically) and say so."""
    from nablanet import plot

    written = plot.save(figure, path)
    print(f"figure written to {path}")
    return written


def output_directory(out_dir) -> Path:
    """``out_dir`` as a Path, created (with its parents) if it does not exist."""
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(figure, out_dir, name: str) -> Path:
    """Write ``figure`` to ``out_dir/name`` (atomically, by ``nablanet.plot.save``) and say so."""
    from nablanet import plot

    path = plot.save(figure, output_directory(out_dir) / name)
    print(f"wrote {path}")
    return path


def progress_bar(total: int, description: str | None, *, unit: str):
    """A tqdm bar (``tqdm.auto``: a widget in Jupyter) on stderr over ``total`` steps of a long demo, so
    that its minutes of computing show progress; with ``description=None`` a bar that draws nothing.

    Use it as a context manager, calling ``update(1)`` per step.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr, disable=description is None,
                dynamic_ncols=True)


def format_table(headers, rows, *, title: str | None = None) -> str:
    """A plain-text table: right-aligned columns wide enough for the header and every cell.

    Args:
        headers: the column names.
        rows: sequences of cells, already formatted as strings (numbers are ``str()``-ed).
        title: a line printed above the table.

    Example:
        >>> print(format_table(["width", "error"], [[1, "0.88"], [32, "0.0018"]]))
        width   error
        -----  ------
            1    0.88
           32  0.0018
    """
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(header)), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    lines = [title] if title else []
    lines.append("  ".join(f"{header:>{width}}" for header, width in zip(headers, widths)))
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(f"{cell:>{width}}" for cell, width in zip(row, widths)) for row in cells)
    return "\n".join(lines)
