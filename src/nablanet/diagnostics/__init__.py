"""Seeing inside training: a monitor for fit, a whole-model gradient check, the chain rule by hand, an LR finder.

- ``TrainingMonitor``: a fit callback recording per layer and epoch the gradient norms, update-to-weight
  ratios, activation statistics, saturated sigmoid/tanh units and dead ReLUs, warning (TrainingWarning)
  about vanishing and exploding gradients, dead and saturated units; ``report()`` and ``plot()``.
- ``gradcheck``: every parameter's gradient against central differences in float64, as a table.
- ``chain_rule_trace``: the notes' back-propagation equations for one sample, checked against the engine.
- ``compare_modes``: operation counts of forward mode (n JVPs) and reverse mode (m VJPs) for a Jacobian.
- ``lr_find``: the learning-rate range test (Smith, 2017), restoring the model and optimizer afterwards.
- ``summarize``: the layers' output shapes, parameters and operations per sample (``Module.summary()``).
- ``bias_variance_report``: the notes' train / train-dev / dev / test diagnosis (avoidable bias, variance,
  data mismatch, overfitting to dev), the largest gap and its remedy, with a picture.
"""

from nablanet.diagnostics.bias_variance import BiasVarianceReport, Finding, bias_variance_report
from nablanet.diagnostics.gradcheck import GradcheckResult, GradcheckRow, GradcheckWarning, gradcheck
from nablanet.diagnostics.lr_finder import LRFinderResult, lr_find
from nablanet.diagnostics.monitor import TrainingMonitor, TrainingWarning
from nablanet.diagnostics.summary import LayerSummary, ModelSummary, summarize
from nablanet.diagnostics.trace import ChainRuleTrace, ModeComparison, chain_rule_trace, compare_modes, flat_loss

__all__ = [
    "TrainingMonitor", "TrainingWarning",
    "gradcheck", "GradcheckResult", "GradcheckRow", "GradcheckWarning",
    "chain_rule_trace", "ChainRuleTrace", "compare_modes", "ModeComparison", "flat_loss",
    "lr_find", "LRFinderResult",
    "summarize", "ModelSummary", "LayerSummary",
    "bias_variance_report", "BiasVarianceReport", "Finding",
]
