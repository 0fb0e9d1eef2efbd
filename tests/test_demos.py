"""Demos: each demo's claim checked on the numbers its quick run prints, plus the registry and the command lines."""

import inspect
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from nablanet import datasets
from nablanet.autodiff.ops.nn import HeavisideDerivativeError
from nablanet.demos import (
    DEMOS,
    activations,
    format_table,
    gates,
    glorot_bengio,
    perceptron,
    universal_approximation,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMOS_WITH_OPTIONS = [gates, perceptron, universal_approximation, glorot_bengio, activations]


def _assert_pngs(paths, names, out_dir):
    assert [Path(path).name for path in paths] == names
    for path in paths:
        assert Path(path).parent == Path(out_dir)
        assert Path(path).read_bytes()[:8] == PNG_SIGNATURE


# --- registry and entry points -----------------------------------------------------------------------

def test_registry_maps_each_name_to_its_module():
    assert list(DEMOS) == ["autodiff", "gates", "perceptron", "universal_approximation", "glorot_bengio",
                           "activations"]
    for name, module in DEMOS.items():
        assert module.__name__ == f"nablanet.demos.{name}"


@pytest.mark.parametrize("module", DEMOS_WITH_OPTIONS, ids=lambda module: module.__name__.rsplit(".", 1)[1])
def test_demo_entry_points_have_the_shared_signatures(module):
    run_parameters = inspect.signature(module.run).parameters
    assert list(run_parameters) == ["out_dir", "quick", "seed"]
    assert run_parameters["quick"].default is False and run_parameters["seed"].default == 0
    main_parameters = inspect.signature(module.main).parameters
    assert list(main_parameters) == ["argv"] and main_parameters["argv"].default is None
    assert (EXAMPLES / f"{module.__name__.rsplit('.', 1)[1]}.py").is_file()


def test_main_parses_out_quick_and_seed(tmp_path, capsys):
    out = tmp_path / "new" / "folder"
    assert activations.main(["--out", str(out), "--quick", "--seed", "3"]) == 0
    assert (out / "activations.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "largest difference" in capsys.readouterr().out


def test_main_rejects_an_unknown_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        activations.main(["--fast"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --fast" in capsys.readouterr().err


def test_example_script_runs_its_demo(tmp_path, monkeypatch, capsys):
    # The script ends normally (exit status 0) rather than by sys.exit, which the documentation's
    # gallery could not run; a mistake still raises (argparse's SystemExit(2) for a wrong option).
    monkeypatch.setattr(sys, "argv", ["activations.py", "--quick", "--out", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "activations.py"), run_name="__main__")
    assert (tmp_path / "activations.png").is_file()
    monkeypatch.setattr(sys, "argv", ["activations.py", "--no-such-option"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXAMPLES / "activations.py"), run_name="__main__")
    assert exit_info.value.code == 2


def test_format_table_aligns_columns_to_the_widest_cell():
    text = format_table(["a", "long header"], [["12345", "x"], [1, "yy"]], title="T")
    assert text.splitlines() == [
        "T",
        "    a  long header",
        "-----  -----------",
        "12345            x",
        "    1           yy",
    ]


# --- gates -------------------------------------------------------------------------------------------

def test_gates_only_the_network_solves_xor(tmp_path, capsys):
    result = gates.run(tmp_path, quick=True, seed=0)
    accuracy = result["accuracy"]
    for gate in ("and", "or"):
        assert accuracy[gate] == {model: 1.0 for model in gates.MODELS}, gate
    assert accuracy["xor"]["network"] == 1.0
    assert accuracy["xor"]["linear regression"] < 1.0
    assert accuracy["xor"]["logistic regression"] < 1.0
    # The notes' closed form: theta = (0.5, 0, 0) for XOR, (-0.25, 0.5, 0.5) for AND, (0.25, 0.5, 0.5) for OR.
    np.testing.assert_allclose(result["theta"]["xor"], [0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result["theta"]["and"], [-0.25, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(result["theta"]["or"], [0.25, 0.5, 0.5], atol=1e-12)
    printed = capsys.readouterr().out
    assert "XOR gate" in printed and "+0.500 -> ?" in printed
    _assert_pngs(result["files"], ["gates.png"], tmp_path)


@pytest.mark.parametrize("outputs, classes", [
    ([0.2, 0.7], [0.0, 1.0]),
    ([0.5, 0.5 + 1e-9, 0.5 - 1e-9], [np.nan, np.nan, np.nan]),   # rounding noise around 0.5 decides nothing
    ([0.5 + 1e-3, -0.25, 1.25], [1.0, 0.0, 1.0]),                # linear regression leaves [0, 1]
])
def test_gates_classify(outputs, classes):
    np.testing.assert_array_equal(gates.classify(np.array(outputs)), classes)


# --- perceptron --------------------------------------------------------------------------------------

def test_perceptron_converges_on_separable_data_and_never_on_xor(tmp_path, capsys):
    result = perceptron.run(tmp_path, quick=True, seed=0)
    runs, bounds = result["runs"], result["bounds"]
    for name in ("AND", "blobs"):
        assert runs[name].converged_epoch is not None and runs[name].converged_epoch <= 100, name
        assert runs[name].errors[-1] == 0 and runs[name].mistakes[-1] == 0, name
        assert result["total_mistakes"][name] <= bounds[name] < np.inf, name
    xor = runs["XOR"]
    assert xor.converged_epoch is None and len(xor.errors) == 20
    assert min(xor.errors) >= 1 and min(xor.mistakes) >= 1
    assert bounds["XOR"] == np.inf
    assert isinstance(result["gradient_error"], HeavisideDerivativeError)
    assert "perceptron learning rule" in str(result["gradient_error"])
    assert "HeavisideDerivativeError" in capsys.readouterr().out
    _assert_pngs(result["files"], ["perceptron.png"], tmp_path)


def test_perceptron_rule_by_hand():
    # One sample x = (1, 2) with target 0, eta = 0.5, from w = 0, b = 0:
    # epoch 1: y = H(0) = 1, a mistake: w = 0 + 0.5 (0 - 1) (1, 2) = (-0.5, -1), b = -0.5;
    # epoch 2: y = H(-0.5 - 2 - 0.5) = H(-3) = 0 = t, no mistake: converged in epoch 2.
    result = perceptron.train_perceptron(np.array([[1.0, 2.0]]), np.array([0.0]), eta=0.5, rng=0)
    assert result.w.tolist() == [-0.5, -1.0] and result.b == -0.5
    assert result.mistakes == [1, 0] and result.errors == [0, 0] and result.converged_epoch == 2


@pytest.mark.parametrize("gate, separable", [("and", True), ("or", True), ("xor", False), ("xnor", False)])
def test_perceptron_max_margin_separator_tells_separable_gates(gate, separable):
    X, t = datasets.gate(gate)
    w, b, gamma = perceptron.max_margin_separator(X, t)
    assert (gamma > 1e-9) == separable
    if separable:
        np.testing.assert_array_equal(perceptron.PerceptronRun(w=w, b=b).predict(X), t)


# --- universal approximation -------------------------------------------------------------------------

def test_universal_approximation_error_falls_with_width(tmp_path, capsys):
    result = universal_approximation.run(tmp_path, quick=True, seed=0)
    widths = universal_approximation.WIDTHS
    assert result["error_ratio"]["1d"] >= 5.0
    assert result["error_ratio"]["2d"] >= 3.0
    for label in ("1d", "2d"):
        errors = [result[label][width]["sup_error"] for width in widths]
        assert errors[0] == max(errors), label
        assert result["error_ratio"][label] == pytest.approx(errors[0] / errors[-1])
    printed = capsys.readouterr()
    assert "sup-norm error, width 1 / width 32" in printed.out
    # Its minutes of fitting show progress: a bar per target over its 6 widths x 2 starts (quick).
    assert "1-D fits: 100%" in printed.err and "2-D fits: 100%" in printed.err and "12/12" in printed.err
    assert "width 32" in printed.err
    _assert_pngs(result["files"], ["universal_approximation_1d.png", "universal_approximation_2d.png"], tmp_path)


# --- Glorot & Bengio ---------------------------------------------------------------------------------

def test_glorot_bengio_first_layer_gets_more_gradient_and_sigmoid_saturates(tmp_path, capsys):
    result = glorot_bengio.run(tmp_path, quick=True, seed=0)
    baseline = glorot_bengio.BASELINE
    for name in ("tanh + Glorot", "ReLU + He"):
        # G at initialization = rho(setup) / rho(sigmoid + N(0,1)), rho = ||dC/dW^1|| / ||dC/dW^out||.
        norms = result["setups"][name]["epochs"][0]["grad_norms"]
        baseline_norms = result["setups"][baseline]["epochs"][0]["grad_norms"]
        expected = (norms[0] / norms[-1]) / (baseline_norms[0] / baseline_norms[-1])
        assert result["gain"][name][0] == pytest.approx(expected)
        assert result["gain"][name][0] > 10.0, name
    assert np.mean(result["setups"][baseline]["epochs"][0]["saturation"]) > 0.25
    assert max(result["setups"]["tanh + Glorot"]["epochs"][0]["saturation"]) < 0.01
    assert len(result["setups"][baseline]["epochs"]) == 2   # initialization and one epoch in quick mode
    assert "G = rho / rho(sigmoid + N(0,1))" in capsys.readouterr().out
    _assert_pngs(result["files"], ["glorot_bengio.png"], tmp_path)


# --- activations -------------------------------------------------------------------------------------

# f'(z) from PyTorch 2.13 (torch.autograd in float64), an oracle independent of the demo's closed forms.
TORCH_DERIVATIVES = [
    ("sigmoid", 0.5, 0.2350037122015945),
    ("tanh", -2.0, 0.07065082485316443),
    ("relu", -0.5, 0.0),
    ("leaky_relu", -2.0, 0.01),
    ("elu", -0.5, 0.6065306597126334),
    ("softplus", 2.0, 0.8807970779778824),
    ("gelu", -2.0, -0.08523180107819692),
    ("gelu", 0.5, 0.8674951246561629),
]


def test_activations_autodiff_matches_the_closed_forms(tmp_path, capsys):
    result = activations.run(tmp_path, quick=True, seed=0)
    table = result["table"]
    assert len(table) == len(activations.NAMES) * len(activations.POINTS)
    assert result["max_error"] < 1e-12
    for row in table:
        assert abs(row["value"] - row["value_closed_form"]) < 1e-12, row
    by_point = {(row["name"], row["z"]): row for row in table}
    for name, z, expected in TORCH_DERIVATIVES:
        assert by_point[name, z]["reverse"] == pytest.approx(expected, abs=1e-12)
        assert by_point[name, z]["forward"] == pytest.approx(expected, abs=1e-12)
    assert "largest difference" in capsys.readouterr().out
    _assert_pngs(result["files"], ["activations.png"], tmp_path)


def test_autodiff_demo_reports_the_notes_counts_and_writes_graphs(tmp_path):
    from nablanet.demos import autodiff

    result = autodiff.run(tmp_path)
    assert result["counts"]["sqrt(x^2 + exp(x^2))"].forward_total == 4
    assert result["counts"]["exp(x^2)"].forward_total == 2
    assert all(path.read_text().startswith("digraph {") for path in result["files"])


@pytest.mark.parametrize("seed, message", [("-1", "must be non-negative, got -1"), ("x", "must be an integer, got 'x'")])
def test_example_parser_refuses_a_bad_seed(capsys, seed, message):
    from nablanet.demos import example_parser

    parser = example_parser("demo", quick="fewer epochs", plot="the curves")
    with pytest.raises(SystemExit):
        parser.parse_args(["--seed", seed])
    assert f"argument --seed: {message}" in capsys.readouterr().err
    assert "draw the curves to PATH" in parser.format_help()
