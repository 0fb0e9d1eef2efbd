"""Graph, the functional model API: DAGs of named layers with several inputs and outputs, equal to the same network
in PyTorch (values and every gradient), finite-difference checks to second order, trained by fit with a tuple or
dict of inputs and outputs, saved and loaded; cycles, unknown names and wrong calls refused in their words."""

import numpy
import pytest
import torch

import nablanet.nn as nn
import nablanet.numpy as nnp
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet import io as nio
from nablanet.optim import Adam
from nablanet.testing import check_grads
from nablanet.train import fit, predict

F64 = numpy.float64


def two_towers(dtype=F64):
    """Two inputs, a shared trunk read by two heads and a skip connection: outputs a dict."""
    return nn.Graph(["image", "meta"], {
        "classes": (nn.Dense(16, 3, rng=3, dtype=dtype), "joined"),  # given before the nodes it reads
        "a": (nn.Dense(4, 8, activation="tanh", rng=0, dtype=dtype), "image"),
        "b": (nn.Dense(2, 8, activation="tanh", rng=1, dtype=dtype), "meta"),
        "joined": (nn.Concatenate(), ["a", "b"]),
        "skip": (nn.Add(), ["a", "b"]),
        "value": (nn.Dense(8, 1, rng=2, dtype=dtype), "skip"),
    }, {"value": "value", "classes": "classes"})


class TorchTwoTowers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 8), torch.nn.Linear(2, 8)
        self.value, self.classes = torch.nn.Linear(8, 1), torch.nn.Linear(16, 3)

    def forward(self, image, meta):
        a, b = torch.tanh(self.a(image)), torch.tanh(self.b(meta))
        return {"value": self.value(a + b), "classes": self.classes(torch.cat([a, b], dim=-1))}


def _joined(outputs):
    if isinstance(outputs["value"], torch.Tensor):
        return torch.cat([outputs["value"].reshape(-1), outputs["classes"].reshape(-1)])
    return nnp.concatenate([nnp.reshape(outputs["value"], (-1,)), nnp.reshape(outputs["classes"], (-1,))])


def test_a_graph_equals_the_same_network_in_torch():
    ours = two_towers()
    pairs = {f"{name}.{torch_name}": (getattr(ours.nodes[name], attribute), transform)
             for name in ("a", "b", "value", "classes")
             for torch_name, attribute, transform in (("weight", "W", lambda v: v.T), ("bias", "b", same))}
    rng = numpy.random.default_rng(0)
    inputs = [rng.standard_normal((5, 4)), rng.standard_normal((5, 2))]
    assert_matches_torch(ours, TorchTwoTowers().double(), inputs, pairs, call=lambda m, *x: _joined(m(*x)))


def test_a_graph_gradient_matches_finite_differences_to_second_order():
    # A diamond: h is read by two nodes, so its gradient is the sum of both.
    graph = nn.Graph(["x"], {"h": (nn.Dense(3, 3, activation="tanh", rng=0, dtype=F64), "x"),
                             "p": (nn.Dense(3, 2, activation="sigmoid", rng=1, dtype=F64), "h"),
                             "q": (nn.Dense(3, 2, rng=2, dtype=F64), "h"),
                             "y": (nn.Add(), ["p", "q"])}, "y")
    f, args = layer_as_function(graph, numpy.random.default_rng(1).standard_normal((4, 3)))
    check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6)


def _data(n=96):
    """A value (the difference of two features, one per input) and 3 classes (how many of two features are > 0)."""
    X = {"image": numpy.random.default_rng(0).standard_normal((n, 4)),
         "meta": numpy.random.default_rng(1).standard_normal((n, 2))}
    targets = {"value": X["image"][:, :1] - X["meta"][:, :1],
               "classes": (X["image"][:, 1] > 0).astype(numpy.int64) + (X["meta"][:, 1] > 0)}
    return X, targets


def test_fit_trains_a_graph_from_a_dict_of_inputs_and_predicts_from_a_tuple(tmp_path):
    X, y = _data()
    model = two_towers(numpy.float32)
    history = fit(model, X, y, loss={"value": "mse", "classes": "cross_entropy"},
                  optimizer=Adam(model.parameters(), lr=0.03), epochs=30, batch_size=16, seed=0, progress=False)
    assert history["value_loss"][-1] < history["value_loss"][0] / 5, history["value_loss"]
    assert history["classes_accuracy"][-1] >= 0.85, history["classes_accuracy"]
    by_name = predict(model, X)
    by_position = predict(model, (X["image"], X["meta"]))
    numpy.testing.assert_array_equal(by_name["classes"], by_position["classes"])
    loaded = nio.load(nio.save(tmp_path / "graph.npz", model))
    assert repr(loaded) == repr(model)
    numpy.testing.assert_array_equal(predict(loaded, X)["value"], by_name["value"])


def test_a_graph_returns_a_tuple_for_a_list_of_outputs_and_may_output_an_input():
    graph = nn.Graph(["x", "y"], {"s": (nn.Add(), ["x", "y"])}, ["s", "x"])
    s, x = graph(numpy.ones(2), y=numpy.full(2, 2.0))
    assert s.tolist() == [3.0, 3.0] and x.tolist() == [1.0, 1.0]


def test_a_graph_refuses_cycles_unknown_names_and_wrong_calls():
    dense = nn.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="Graph: the nodes form a cycle, a -> b -> a; a graph must be acyclic"):
        nn.Graph(["x"], {"a": (nn.Add(), ["x", "b"]), "b": (dense, "a")}, "b")
    with pytest.raises(ValueError, match="Graph: node 'a' reads 'z', which is neither an input nor a node"):
        nn.Graph(["x"], {"a": (dense, "z")}, "a")
    with pytest.raises(ValueError, match="Graph: the output 'out' is neither an input nor a node"):
        nn.Graph(["x"], {"a": (dense, "x")}, "out")
    with pytest.raises(ValueError, match="Graph: the node 'x' has the name of an input"):
        nn.Graph(["x"], {"x": (dense, "x")}, "x")
    with pytest.raises(TypeError, match=r"Graph: node 'a' must be \(layer, input names\)"):
        nn.Graph(["x"], {"a": dense}, "a")
    graph = nn.Graph(["x", "y"], {"s": (nn.Add(), ["x", "y"])}, "s")
    with pytest.raises(TypeError, match=r"Graph: missing inputs \['y'\]"):
        graph(numpy.ones(2))
    with pytest.raises(TypeError, match="Graph: no input named 'z'"):
        graph(numpy.ones(2), z=numpy.ones(2))
    with pytest.raises(ValueError, match=r"Add: the inputs must have one shape, got \[\(2,\), \(3,\)\]"):
        graph(numpy.ones(2), numpy.ones(3))
