"""The benchmarks' machinery, without timing anything: the workloads they build, the peers' rounds, the summary."""

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nablanet

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

_harness = importlib.import_module("_harness")
_training = importlib.import_module("_training")
gru = importlib.import_module("gru")
standard = importlib.import_module("standard")


def test_gru_benchmark_builds_the_papers_model_with_5134_parameters_in_every_peer(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 40, 1)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    monkeypatch.setattr(gru, "make_data", lambda: (X, y))
    settings = _training.Settings(threads=1, steps=1, check_steps=1)

    ours = gru.nablanet_model(settings)
    torch_model = gru.torch_model(settings)
    assert gru.WORKLOAD.parameters == 5134
    assert sum(p.data.size for p in ours.model.parameters()) == 5134
    assert sum(p.numel() for p in torch_model.parameters) == 5134
    # All 40 outputs reach the dense layer: the same logits as PyTorch's nn.GRU with every output flattened.
    logits = np.asarray(ours.model(X[:8]).data)
    assert logits.shape == (8, 10)
    np.testing.assert_allclose(torch_model.forward(torch_model.X[:8]).detach().numpy(), logits, rtol=1e-5, atol=1e-6)


def test_fit_peer_trains_on_the_batches_of_the_users_loop():
    import nablanet.nn as nn
    from nablanet import optim

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def setup(settings):
        model = nn.Sequential(nn.Dense(5, 3, rng=0))
        return _training.NablanetModel(model, optim.Adam(model.parameters(), lr=1e-2), X, y, _training.Batches(64, 16))

    settings = _training.Settings(threads=1, steps=4, check_steps=6)
    peers = _training.nablanet_peers(setup)
    loop, in_fit = peers["nablanet"](settings), peers["nablanet-fit"](settings)
    losses = [loop.step() for _ in range(6)]
    np.testing.assert_allclose(in_fit.check(), losses, rtol=1e-6)
    assert in_fit.samples_per_iteration == 4 * 16 and loop.samples_per_iteration == 16
    assert in_fit.count_parameters() == loop.count_parameters() == 5 * 3 + 3


def test_compiled_peer_is_skipped_with_a_note_while_nablanet_has_no_jit(monkeypatch):
    monkeypatch.delattr(nablanet, "jit", raising=False)
    peers = _training.nablanet_peers(lambda settings: None)
    with pytest.raises(_harness.PeerUnavailable, match="no nablanet.jit yet"):
        peers["nablanet-jit"](_training.Settings(threads=1, steps=1, check_steps=1))


def test_peers_disagreeing_on_their_number_of_parameters_are_named():
    infos = {"nablanet": {"parameters": 5134}, "torch": {"parameters": 5134}, "jax-jit": {"parameters": 454}}
    assert _training.parameter_disagreements(infos, 5134) == ["jax-jit has 454 parameters, the workload 5,134"]
    assert _training.parameter_disagreements(infos, None) == ["jax-jit has 454 parameters, the workload 5,134"]


_WORKER = '''
import sys
sys.path.insert(0, {benchmarks!r})
import _harness

def setup():
    name = sys.argv[sys.argv.index("--peer") + 1]
    def step():
        with open({log!r}, "a") as log:
            log.write(name + "\\n")
    return {{}}, {{"train": step}}

_harness.serve_peer(setup)
'''


def test_peers_with_their_own_loop_are_timed_in_the_same_rounds(tmp_path):
    log = tmp_path / "calls.txt"
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_WORKER.format(benchmarks=str(BENCHMARKS), log=str(log))))
    cases = {"stepper": [("train", 3, 1)], "whole": [("train", 1, 0)]}
    infos, unavailable, seconds = _harness.run_interleaved(str(script), ["stepper", "whole"], cases, repeats=2,
                                                           threads=1)
    assert not unavailable and set(infos) == {"stepper", "whole"}
    assert [len(seconds[peer]["train"]) for peer in ("stepper", "whole")] == [2, 2]
    calls = log.read_text().split()
    # Three rounds (one warm-up): the stepper 3 + 1 calls a round, the whole-repeat peer one, in turn.
    assert calls.count("stepper") == 3 * 4 and calls.count("whole") == 3
    # Rounds in turn, the order rotated each round: S W | W S | S W, not all of one peer's repeats first.
    runs = [name for k, name in enumerate(calls) if k == 0 or calls[k - 1] != name]
    assert runs == ["stepper", "whole", "stepper", "whole"]


def _measurement(workload, unit, higher, medians, skipped=None):
    return _harness.Measurement(workload, unit, higher, {peer: [value] for peer, value in medians.items()},
                                skipped or {})


def test_summary_rates_nablanets_best_style_against_the_best_peer_and_the_issues_target():
    measurements = {
        "mlp-784": _measurement("mlp-784", "samples/s", True, {
            "nablanet": 80_000, "torch": 82_000, "torch-fused": 107_000, "jax-jit": 104_000, "sklearn": 35_000}),
        "cnn-28": _measurement("cnn-28", "samples/s", True, {
            "nablanet": 4_500, "nablanet-fit-eager": 9_000, "torch": 8_700, "torch-fused": 8_000}),
        "op-overhead f'(x)": _measurement("op-overhead f'(x)", "us/call", False, {
            "nablanet-grad": 30.0, "nablanet-tensor": 27.6, "nablanet-jit": 8.0, "torch": 45.0, "jax-jit": 10.3}),
    }
    rows = {row[0]: row for row in standard.summary_rows(measurements, failed=["gru"])}
    assert rows["mlp-784"][2:] == ["80,000", "-", "82,000", "107,000", "104,000", "torch-fused 107,000", "0.75",
                                   ">= 1.0x torch fused Adam: NOT met (0.75x)"]
    assert rows["cnn-28 (user's loop)"][-2:] == ["0.52", ">= 1.0x PyTorch eager: NOT met (0.52x)"]
    assert rows["cnn-28 (in fit)"][2] == "9,000" and rows["cnn-28 (in fit)"][-1] == ">= 1.0x PyTorch eager: met (1.03x)"
    assert rows["f'(x)"][2:4] == ["27.6 (tensor)", "8.00"]
    assert rows["f'(x)"][-3:] == ["jax-jit 10.3", "1.29", "<= 10 us/call: met (8.0)"]
    assert rows["gru (paper's model)"][1] == "FAILED"
    assert "mlp-small" not in rows  # not measured in this run
