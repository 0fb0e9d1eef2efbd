"""pytest in docs/: the Markdown pages' examples run as doctests (pyproject's --doctest-glob=*.md).

What the Sphinx build reads or writes here is no test: the configuration and its extensions import
Sphinx (the docs extra), and the built site and the generated gallery pages hold copies of scripts.
"""

from pathlib import Path

import pytest

collect_ignore = ["conf.py", "_ext"]
collect_ignore_glob = ["_build/*", "tutorials/*", "gallery/*", "api/*"]
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_an_empty_folder(tmp_path, monkeypatch):
    """Each page's examples run in an empty folder that holds a link to the repository's examples/: the
    pages name examples/data/moons.csv and examples/configs/ as a reader in a clone would, and the
    files they write (run folders, model files) land in a temporary folder, not in the clone."""
    (tmp_path / "examples").symlink_to(REPOSITORY / "examples")
    monkeypatch.chdir(tmp_path)
