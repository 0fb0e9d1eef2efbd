"""Speed tricks as plain NumPy functions (ndarrays in, ndarrays out), one module per family of ops.

The ops in ``nablanet.autodiff.ops`` and the optimizers in ``nablanet.optim`` state the mathematics;
where an array computation has a faster way through NumPy than the obvious one (a longer inner loop,
one BLAS call instead of many, a pass in memory order, a copy of whole runs, no temporaries), they
call a function here. Each function's docstring says what it computes and why it is faster; the
measured figures are in ``benchmarks/README.md``. Nothing here imports nablanet but these modules, so
the ops can import them without a cycle:

- ``dense.py``: rows of a batch as one matrix, the bias added in long rows, column sums by BLAS.
- ``norm.py``: per-feature statistics and scalings in an array's own memory order (batch norm).
- ``conv.py``: the patch matrix of a convolution (im2col), its transpose, the input gradient.
- ``pool.py``: pooling over non-overlapping windows, its first-maximum choice and its spread.
- ``linalg.py``: stacked outer products as one broadcast product, a triangular solve by LAPACK directly.
- ``recurrent.py``: a GRU or Elman RNN layer over a whole sequence, both directions in the same calls of each step.
- ``optimizers.py``: the optimizers' update rules in place, with one scratch array.
- ``workspace.py``: large arrays in memory freed by earlier steps (no fresh pages, no page faults).
"""
