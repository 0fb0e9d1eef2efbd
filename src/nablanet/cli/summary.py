"""`nablanet summary`: a saved model's layers, output shapes, parameter counts and operations per sample."""

from __future__ import annotations


def run(args) -> int:
    """Print the layers of the model file ``args.model`` with their shapes, parameters and operation counts
    (the table of ``Module.summary()``, nablanet.diagnostics.summarize)."""
    from nablanet import io
    from nablanet.diagnostics.summary import summarize

    checkpoint = io.load_checkpoint(args.model)
    model = checkpoint.model
    print(summarize(model, _sample_shape(model, checkpoint.preprocessing, args.input_shape), name=args.model))
    return 0


def _sample_shape(model, preprocessing, given: str | None) -> tuple:
    """One sample's shape: ``--input-shape``, else what the saved preprocessing makes, else what the first layer
    expects."""
    from nablanet.diagnostics.summary import input_shape_of

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
    shape = input_shape_of(model)
    if shape is None:
        raise ValueError("cannot tell the input shape of this model (its first layer is not Dense or RBF); give it "
                         "with --input-shape, e.g. --input-shape 1,28,28")
    return shape
