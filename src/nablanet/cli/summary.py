"""`nablanet summary`: a saved model's layers, output shapes, parameter counts and operations per sample."""

from __future__ import annotations

import numpy as np

from nablanet.cli.tables import text_table


def run(args) -> int:
    """Print the layers of the model file ``args.model`` with their shapes, parameters and operation counts."""
    from nablanet import count_ops, io
    from nablanet.autodiff.state import no_grad
    from nablanet.autodiff.tensor import Tensor

    checkpoint = io.load_checkpoint(args.model)
    model = checkpoint.model.eval()
    sample_shape = _sample_shape(model, checkpoint.preprocessing, args.input_shape)
    dtype = model.parameters()[0].data.dtype if model.parameters() else np.float32
    x = np.zeros((1,) + sample_shape, dtype=dtype)
    layers = list(model.layers) if hasattr(model, "layers") else [model]
    names = [f"layers.{i}" for i in range(len(layers))] if hasattr(model, "layers") else ["model"]
    rows = []
    for name, layer in zip(names, layers):
        forward = count_ops(layer, x).forward_total
        with no_grad():
            out = layer(x)
        x = np.asarray(out.data if isinstance(out, Tensor) else out)
        rows.append([f"{name} ({type(layer).__name__})", _describe_layer(layer), str((None,) + x.shape[1:]),
                     f"{layer.num_parameters():,}", f"{forward:,}"])
    whole = count_ops(model, np.zeros((1,) + sample_shape, dtype=dtype))
    print(f'Model: "{args.model}"  (input: one sample of shape {sample_shape}, {np.dtype(dtype).name})')
    print(text_table(["Layer (type)", "Settings", "Output shape", "Params", "Forward ops"], rows,
                     left_columns=3, ruled=True))
    print(f"Total params: {model.num_parameters():,}")
    print(f"Operations per sample: forward {whole.forward_total:,}, backward (gradient) {whole.reverse_total:,}, "
          f"total {whole.total:,}")
    return 0


def _sample_shape(model, preprocessing, given: str | None) -> tuple:
    """One sample's shape: ``--input-shape``, else what the saved preprocessing makes, else what the first layer
    expects."""
    if given:
        try:
            shape = tuple(int(part) for part in given.replace("x", ",").split(",") if part.strip())
        except ValueError:
            raise ValueError(f"--input-shape must be integers separated by commas, e.g. 1,28,28; "
                             f"got {given!r}") from None
        if not shape or min(shape) < 1:
            raise ValueError(f"--input-shape must be positive integers, got {given!r}")
        return shape
    if preprocessing is not None:
        return preprocessing.prepared_shape
    return _first_layer_input_shape(model)


def _first_layer_input_shape(model) -> tuple:
    """``(in_features,)`` of a model whose first weighted layer is Dense or RBF."""
    from nablanet.nn import GRU, LSTM, RBF, RNN, Conv1d, Conv2d, Dense

    # The first layer whose weights take the input decides (activations, dropout and BatchNorm before it
    # keep the width); a convolution or a recurrent layer does not fix the sample's length.
    first = next((module for module in model.modules()
                  if isinstance(module, (Dense, RBF, Conv1d, Conv2d, RNN, GRU, LSTM))), None)
    if isinstance(first, Dense) and first.W.data.ndim == 2:
        return (first.W.data.shape[0],)
    if isinstance(first, RBF):
        return (first.centers.data.shape[1],)
    raise ValueError("cannot tell the input shape of this model (its first layer is not Dense or RBF); give it "
                     "with --input-shape, e.g. --input-shape 1,28,28")


def _describe_layer(layer) -> str:
    text = layer.extra_repr() if hasattr(layer, "extra_repr") else ""
    return text if len(text) <= 48 else text[:45] + "..."
