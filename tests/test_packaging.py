"""What a user sees of the package itself: its version, `python -m nablanet`, typing, public names."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nablanet
import nablanet.datasets

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, env=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)


def test_version_is_the_installed_distributions():
    assert importlib.metadata.version("nablanet") == nablanet.__version__


def test_cli_prints_its_version():
    result = _run("-m", "nablanet.cli", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"nablanet {nablanet.__version__}"


def test_python_dash_m_nablanet_is_the_command():
    result = _run("-m", "nablanet", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nablanet")


def test_package_is_marked_typed():
    assert (Path(nablanet.__file__).parent / "py.typed").is_file()
    assert "py.typed" in (ROOT / "pyproject.toml").read_text()


def test_datasets_shows_only_its_public_names():
    shown = dir(nablanet.datasets)
    assert shown == sorted(nablanet.datasets.__all__)
    assert not [name for name in shown if name.startswith("_")]
    for family_module in ("common", "files", "gates", "mnist", "registry", "synthetic", "tables"):
        assert family_module not in shown


def test_benchmarks_readme_names_no_machine_paths():
    for path in [ROOT / "benchmarks" / "README.md", *sorted((ROOT / "benchmarks").glob("*.py"))]:
        text = path.read_text()
        for machine_path in ("/work/", "/home/", "/tmp/"):
            assert machine_path not in text, f"{path.name} names {machine_path}"


_WITHOUT_MATPLOTLIB = '''
import importlib.abc, sys
class _NoMatplotlib(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoMatplotlib())
'''


@pytest.mark.parametrize("demo", ["gates", "perceptron", "glorot_bengio", "universal_approximation"])
def test_demos_without_matplotlib_print_one_line_naming_the_extra(demo, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(_WITHOUT_MATPLOTLIB)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = _run("-m", "nablanet", "demo", demo, "--quick", "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'nablanet[plot]'" in lines[0], result.stderr
