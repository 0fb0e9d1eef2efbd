"""The scripts of examples/ imported as modules, for the tests of their claims."""

import contextlib
import importlib.util
import io
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    """examples/<name>.py imported as the module ``<name>_example``, a generator for a pytest fixture.

    The module is in sys.modules while it is in use (its dataclasses look their module up there) and
    removed afterwards. Its own name is not used: examples/mnist1d.py would shadow the package mnist1d.

    Yields:
        The module.
    """
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def run_quietly(main, argv):
    """``main(argv)``'s result and what it printed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = main(argv)
    return result, output.getvalue()


def example_fixtures(name: str, quick_argv=("--quick",)):
    """The fixtures ``example`` (the module) and ``quick_run`` (``main(quick_argv)``'s result and output), once
    per test module; assign them as ``example, quick_run = example_fixtures("vae")``."""

    @pytest.fixture(scope="module")
    def example():
        yield from load_example(name)

    @pytest.fixture(scope="module")
    def quick_run(example):
        return run_quietly(example.main, list(quick_argv))

    return example, quick_run


def assert_draws(draw, tmp_path):
    """``draw(path)`` writes a PNG file there and nothing else, and says so."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "figure.png"
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        draw(str(path))
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and list(tmp_path.iterdir()) == [path]
    assert output.getvalue() == f"figure written to {path}\n"


def assert_refused(parse_args, capsys, argv, message):
    """``parse_args(argv)`` exits with ``message`` on stderr."""
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err
