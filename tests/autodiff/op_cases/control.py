"""stop_gradient (``autodiff/ops/control.py``).

Its derivative is zero by definition, not in truth, so finite differences cannot check it: it is
listed with the constant ops, and test_custom.py checks its documented behaviour.
"""

CONSTANT_OPS = {"stop_gradient"}
