"""README.md's Python examples run as written, and print what their comments say."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_first_look_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the network example saves a model file
    blocks = _python_blocks()
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    # The Gaussian process's figures, as the README's comment quotes them.
    assert "-log p(y) = -12.74, lengthscale 1.68" in printed
