"""fit's warning when the model's output layer applies the activation that its loss applies itself.

cross_entropy takes logits z and computes softmax(z) inside; a network that ends in a Softmax gives it
probabilities instead, which the loss squashes a second time: no error, but the gradient
(softmax(a) - t) through a softmax that has saturated is small, and training slows or stalls. The same
holds for a sigmoid before binary_cross_entropy_with_logits. ``LossRecord.applies`` says which
activation a loss applies. (A model with several outputs, whose loss is their weighted sum, is not checked.)
"""

from __future__ import annotations

import warnings

from nablanet.autodiff.state import no_grad
from nablanet.nn.losses import LOSSES
from nablanet.train.inputs import call_model

__all__ = ["warn_if_activation_applied_twice", "output_layer"]


def warn_if_activation_applied_twice(model, sample, loss_fn) -> None:
    """Warn (UserWarning, from fit's caller) when the module that gives ``model``'s output ends in the
    activation that ``loss_fn`` applies itself (see the module docstring); ``sample`` is one input batch."""
    from nablanet.diagnostics._common import activation_of

    record = LOSSES.records.get(loss_fn)
    if record is None or record.applies is None:
        return
    found = output_layer(model, sample)
    if found is None or activation_of(found[1]) != record.applies:
        return
    name, module = found
    where = f"the model ({type(module).__name__})" if not name else f"its output layer {name} ({type(module).__name__})"
    alternative = " or train with binary_cross_entropy, which takes probabilities" if record.applies == "sigmoid" else ""
    warnings.warn(f"the loss {record.name} applies {record.applies} itself (it takes logits), but {where} already "
                  f"applies {record.applies}, so the outputs are squashed twice and training slows or stalls; remove "
                  f"the final {record.applies} (apply it to the predictions when you need probabilities){alternative}",
                  UserWarning, stacklevel=3)


def output_layer(model, sample):
    """(dotted name, module) of the innermost module whose output is the model's output itself, found by
    forward hooks during one forward pass of ``sample`` in evaluation mode ("" names the model); None when
    the model computes its output after its last module (a functional softmax in its forward)."""
    names = {id(module): name.rstrip(".") for name, module in model._named_modules()}
    finished = []
    handles = [module.register_forward_hook(lambda module, inputs, output: finished.append((module, output)))
               for module in model.modules()]
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad():
            output = call_model(model, sample)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
    # Inner modules finish before the modules that call them: the first to return the output is innermost.
    module = next((module for module, result in finished if result is output), None)
    return None if module is None else (names.get(id(module), ""), module)
