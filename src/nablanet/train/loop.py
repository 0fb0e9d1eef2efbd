"""fit(), predict() and evaluate(): epochs of minibatch training with callbacks, history and safeguards.

One training step of ``fit`` is, for a minibatch (X_b, y_b)::

    C = loss(model(X_b), y_b) + l1 sum |W| + l2 sum W^2     (the penalty only if l1 or l2 > 0)
    C.backward()                                              (fills p.grad of every parameter)
    optimizer.step()                                          (updates p.data in place)

l1 and l2 are lambda_1 and lambda of the notes' C + lambda_1 ||W||_1 + lambda ||W||_2^2 (no 1/2; see
nablanet.nn.regularizers for how weight_decay and scikit-learn's alpha relate to it).

``batch_size=None`` gives one batch of all samples per epoch, i.e. plain gradient descent. All the
randomness of the loop (the validation split and the order of the batches) comes from one
``numpy.random.Generator`` made from ``seed`` (else from the library's seed, ``nablanet.seed``);
initial weights and dropout masks come from the generators the layers took when built (their
``rng=``, else the library's seed). So a run is reproducible bit for bit after ``nablanet.seed(s)``,
or with ``seed=`` and layers built with ``rng=``. After ``fit`` every module is in the mode
(training or evaluation) it was in before, as in PyTorch; ``predict`` always evaluates.

An optimizer whose ``step`` needs a closure (L-BFGS, as ``torch.optim.LBFGS``) takes one
``optimizer.step(closure)`` per epoch, the closure computing C and its gradients on the whole
training set. Training that diverges is stopped on its best weights (nablanet.train.divergence).

The data need not be arrays in memory: X may be a Dataset read a batch at a time (memory-mapped
arrays and .npy shards among them), an iterable of batches or a sparse matrix densified a batch at a time
(nablanet.train.sources), each with per-sample weights if given (nablanet.train.weights). A model may
take several inputs and return several outputs, each with its loss (nablanet.train.outputs).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from nablanet import runtime
from nablanet.autodiff.state import no_grad
from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.tree import tree_map
from nablanet.distributed.mpi import parallel_training
from nablanet.nn.init import make_rng
from nablanet.nn.regularizers import WeightPenalty
from nablanet.optim.registry import as_optimizer, needs_closure
from nablanet.train.callbacks import Callback, ProgressBar
from nablanet.train.compiled import CompiledStep, check_compile
from nablanet.train.data import concatenate_rows, num_rows
from nablanet.train.divergence import (DEFAULT_DIVERGENCE_FACTOR, DivergenceGuard, NonFinite, StateSnapshot,
                                       TrainingDivergedError, check_divergence_factor, check_finite, non_finite_error)
from nablanet.train.history import History, TrainingRun
from nablanet.train.inputs import call_model, check_model, check_optimizer, compute_dtype
from nablanet.train.output_check import warn_if_activation_applied_twice
from nablanet.train.outputs import as_tensors, model_outputs
from nablanet.train.sources import data_source, input_batches, validation_source
from nablanet.train.weights import metric_scores, weighting as _weighting

# History and TrainingRun (nablanet.train.history) and TrainingDivergedError (nablanet.train.divergence) are
# listed here too: fit returns, passes and raises them.
__all__ = ["fit", "predict", "evaluate", "History", "TrainingRun", "TrainingDivergedError"]


class _DefaultBatchSize(int):
    """fit's default batch size, 32, told apart from a 32 passed on purpose: L-BFGS, which steps on the
    whole training set, ignores the default silently and a batch size it was given with a warning."""


_DEFAULT_BATCH_SIZE = _DefaultBatchSize(32)


def fit(model, X, y=None, *, loss, optimizer, epochs: int, lr=None, batch_size: int | None = _DEFAULT_BATCH_SIZE,
        shuffle: bool = True, validation_split: float = 0.0, validation_data=None, sample_weight=None,
        class_weight=None, metrics=None, callbacks=(), l1: float = 0.0, l2: float = 0.0, seed=None,
        progress: bool = True, dtype=None, fast_math: bool = False, flush_subnormals: bool = False,
        keep_freed_memory: bool = False, validation_metrics=(), divide_penalty_by_batch_size: bool = False,
        divergence_factor: float | None = DEFAULT_DIVERGENCE_FACTOR, threads: int | None = None,
        distributed: str | None = None, sync_batchnorm: bool = False, loss_weights=None,
        steps_per_epoch: int | None = None, compile: bool | str = "auto") -> History:
    """Train ``model`` by minibatch gradient descent on ``(X, y)``; return the per-epoch History.

    Each epoch shuffles the rows (if ``shuffle``), cuts them into batches of ``batch_size``, and for
    each batch takes the step ``C = loss + penalty; C.backward(); optimizer.step()``. After the
    epoch it evaluates the validation data, then runs the callbacks' ``on_epoch_end``, then judges
    whether training diverges (``divergence_factor``).

    Args:
        model: a nablanet.nn.Module (or an object with its ``parameters()``, ``train()``, ``eval()``
            and call); a plain function is refused, having nothing to train. Its forward may take
            several inputs and return a tuple or dict.
        X: inputs ``(N, ...)``; cast once to the dtype of the model's parameters. Several inputs: a
            tuple of arrays (``model(*X)``) or a dict (``model(**X)``). With ``y`` None: a Dataset
            (``X[indices]`` -> ``(X_batch, y_batch)``, e.g. NpyShards) or an iterable of batches;
            memory-mapped X and y are read a batch at a time, and a scipy.sparse X (N, D) stays
            sparse, each batch densified in turn (see nablanet.train.sources).
        y: targets: of the predictions' shape (regression, one-hot, binary 0/1), or integer class
            labels ``(N,)`` for cross_entropy. ``(N,)`` against one-column predictions is reshaped
            to ``(N, 1)``. Anything else is an error before training starts. Several outputs: a
            tuple or dict of targets, as the outputs.
        loss: a name (``"mse"``, ``"cross_entropy"``, ...) or a function ``(predictions, targets) ->
            scalar Tensor``; see nablanet.nn.functional.get_loss. What the loss means (its record in
            nablanet.nn.LOSSES, found by name or by the registered function itself) sets the defaults
            below; register your own with nablanet.nn.register_loss to give it the same. Keras' names
            are aliases: "mean_squared_error", "mean_absolute_error", "huber", "hinge",
            "binary_crossentropy" (on probabilities, as Keras' default), and
            "sparse_categorical_crossentropy" (integer labels) and "categorical_crossentropy" (one-hot
            rows), which are cross_entropy on logits (Keras' from_logits=True): a network ending
            without a softmax. Several outputs: one loss for all, a dict by output name or a list;
            the cost is C = sum_k w_k L_k (see nablanet.train.outputs).
        loss_weights: the w_k of several outputs, a dict by output name or a list; default 1 each.
        optimizer: an optimizer built on the model, e.g. ``nablanet.optim.Adam(model.parameters(),
            lr=1e-3)``; or a name of nablanet.optim.OPTIMIZERS in any case (``"adam"``, ``"SGD"``, as
            Keras takes them), built on ``model.parameters()`` with the class's defaults and ``lr``; or
            a dict of the name and settings, ``{"name": "adam", "lr": 1e-2, "beta1": 0.8}``
            (nablanet.optim.as_optimizer). A built optimizer may update some of the model's parameters
            (the others stay as they are), not another model's. An optimizer whose ``step`` needs a closure
            (``nablanet.optim.LBFGS``) is driven as ``torch.optim.LBFGS`` is used: one
            ``optimizer.step(closure)`` per epoch (L-BFGS' ``max_iter`` iterations), the closure
            computing the cost C and its gradients on all the training rows; its epoch's training
            figures are those of its first evaluation, at the weights the epoch started from (the
            loss ``torch.optim.LBFGS.step`` returns), and callbacks see one batch per epoch.
        epochs: number of passes over the training data.
        lr: the learning rate eta (a float, or a schedule of nablanet.optim.schedules) of an optimizer
            given by name or dict (Keras' ``learning_rate``); default: that optimizer's own (1e-3 for
            Adam and SGD, 1e-2 for Adagrad and RMSprop). An error with an optimizer already built.
        batch_size: samples per step; ``None`` = all of them (full-batch gradient descent). Default 32,
            and None for a closure optimizer (L-BFGS), which always steps on all the rows: a smaller
            batch size given with it is ignored with a warning.
        compile: ``"auto"``: each minibatch step runs as a program traced by nablanet.jit where fit knows
            its replays compute what eager mode would (nablanet's own layers and losses, arrays; the rules
            are nablanet.train.compiled's), else eagerly; ``True``: compiled with code of yours too (its
            Python runs once, when traced, as under jax.jit); ``False``: eager. The same weights either way.
        steps_per_epoch: the batches of an epoch read from an iterable of batches (as Keras);
            default: one pass.
        shuffle: reshuffle the samples every epoch (and split the validation set at random).
        validation_split: fraction of (X, y) held out for validation; a random subset when
            ``shuffle``, else the last rows (as Keras).
        validation_data: ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)`` (a tuple), or a
            Dataset or iterable of batches, instead of validation_split.
        sample_weight: per-sample weights w ``(N,)`` of arrays or a Dataset: each batch's loss (every
            output's) is sum_i w_i l_i / sum_i w_i, the metrics are weighted alike; validation_split cuts
            them with the rows; a batch whose weights are all zero takes no step. Batches ``(X_batch,
            y_batch, w_batch)`` of an iterable or a Dataset carry their own (nablanet.train.weights).
        class_weight: ``"balanced"`` (n / (K n_k) for class k, scikit-learn's; arrays only) or a dict
            class -> weight, multiplying the weights of the training samples; a model with one output.
        metrics: names or functions ``(predictions, targets) -> value`` (see nablanet.train.metrics).
            Default ``None``: ``("accuracy",)`` for a registered classification loss (cross_entropy,
            the binary cross-entropies, hinge), none for a regression loss or an unregistered function.
            Several outputs: for all, or a dict or a list of lists per output (``<output>_<metric>``).
            For one-column outputs accuracy decides classes at the loss's threshold: 0 for one on
            logits (binary_cross_entropy_with_logits, hinge), 0.5 for one on probabilities. Accuracy
            (or confusion_matrix) by name on one-column outputs of an unregistered loss function is
            an error, since its threshold is unknown.
        validation_metrics: more metrics, computed on the validation data only (``val_<name>``): for
            scores too costly to compute on the training data every epoch, or meaningless there.
        callbacks: Callback objects, run in this order (see nablanet.train.callbacks).
        l1, l2: lambda_1 and lambda of the penalty on the weights W (parameters with
            ``regularize=True``, not biases): each step's cost gains lambda_1 ||W||_1 + lambda ||W||_2^2
            = l1 sum |W| + l2 sum W^2, reported separately as ``penalty``. An optimizer's
            ``weight_decay`` is the gradient term weight_decay theta on every parameter, biases
            included: the same as l2 = weight_decay / 2 on weights and biases alike.
        divide_penalty_by_batch_size: divide the penalty by the rows n_b of each batch, C = loss +
            (l1 ||W||_1 + l2 ||W||_2^2) / n_b: the penalty counts once against the batch's summed loss,
            so a short last batch weighs it more. scikit-learn's MLP does this, with l2 = alpha / 2;
            with sample weights n_b is the batch's total weight sum_i w_i, as in scikit-learn.
        seed: int seed or numpy Generator for shuffling and splitting; None: a new generator from the
            library's seed (``nablanet.seed``). Not for initial weights and dropout masks, drawn by
            the layers' own generators (see the module docstring).
        progress: show a tqdm progress bar on stderr; ``False`` prints nothing.
        dtype: the floating dtype to compute in; default and only allowed value: the model's
            parameter dtype (float32 for nablanet layers unless built with ``dtype=np.float64``).
        fast_math: train inside nablanet.runtime.fast_math(), both parts below. By default
            (False) fit changes nothing outside the model, the optimizer and the callbacks: the
            process's floating-point control register and glibc's malloc parameters stay as they
            were. Fast mode changes, for the duration of the call, the calling thread's MXCSR (FTZ
            and DAZ set: subnormal results and inputs become zero) and, for the whole process,
            glibc's mmap and trim thresholds (raised to 1 GiB and 2 GiB); on return MXCSR is as
            before, while the thresholds are left at 32 MiB and 64 MiB with glibc's own adjustment
            of them off for the rest of the process (glibc has no way to turn it back on; see
            nablanet.runtime.keep_freed_memory). Each part is applied where the platform has it
            (x86-64 Linux with glibc), and skipped elsewhere.
        flush_subnormals: the first part alone: train inside nablanet.runtime.flush_denormals().
            In long float32 runs with Adam about a tenth of the moment estimates decay into
            subnormal numbers (below 1.2e-38), on which x86 arithmetic is many times slower;
            flushing them to zero changes no result a network can feel.
        keep_freed_memory: the second part alone: train inside
            nablanet.runtime.keep_freed_memory(): freed arrays stay in the process for the next
            step's, instead of being page-faulted in afresh every step (a quarter of a small CNN's
            step time on glibc); the process keeps its peak memory until fit returns.
        distributed: ``"mpi"``: data-parallel over MPI's ranks (under ``mpiexec -n N``; ``pip install
            'nablanet[mpi]'``): each rank takes its shard of every global batch and steps from the whole
            batch's gradient; the History is global; rank 0 alone shows progress and runs ModelCheckpoint
            and CSVLogger (see nablanet.distributed.MPITraining). Default None: this process alone.
        sync_batchnorm: with ``distributed="mpi"``, BatchNorm normalizes with the global batch's statistics
            (PyTorch's SyncBatchNorm; nablanet.distributed.convert_sync_batchnorm, undone on return).
            Default False: each rank's own shard's (PyTorch DDP's default).
        divergence_factor: an epoch whose monitored loss (``val_loss`` with validation data, else
            ``loss``) is more than this many times the lowest so far, and above the first, is
            diverging: the first such epoch gets a DivergenceWarning, and when the next epoch is
            diverging too (or training ends on the diverging one) fit restores the best weights and
            raises TrainingDivergedError. With validation data the initial weights' validation loss,
            measured before the first epoch, counts as the first. Default 100; a number above 1, or
            None to judge no epoch losses (a NaN or infinite loss still stops training). See
            nablanet.train.divergence for the rules and which weights are an epoch's.
        threads: the most BLAS threads (matrix products) while fit runs, for the whole process; the
            pools get their sizes back on return (``nablanet.runtime.blas_threads``). None: an
            enclosing ``blas_threads`` block's count (the command's ``--threads``), else 1
            (``runtime.DEFAULT_THREADS``): OpenBLAS's default of one per core made an epoch 5-13x
            slower on a 2-core machine running other work (``python benchmarks/threads.py``, figures
            in benchmarks/README.md). 0: the pools as they are.

    Returns:
        A History (see its docstring for the keys). Every module's mode (``training``) is as before
        the call, also when fit raises.

    Raises:
        TrainingDivergedError: the training loss became NaN or infinite, or the monitored loss
            stayed more than ``divergence_factor`` times its best. The model's parameters (and
            buffers such as BatchNorm statistics) are restored to the best known (those of the
            best epoch; in the first epoch, before the optimizer step that led to a NaN, or the
            initial ones: see nablanet.train.divergence); the optimizer's own state is not restored.
            With ``TerminateOnNaN()`` fit returns at a NaN loss instead, with the History so far.
        TypeError: a model or optimizer that is not one (None, a plain function).
        ValueError: inconsistent shapes or dtypes, non-finite data, bad settings, an optimizer over
            parameters that are not the model's, an unknown optimizer name (the message lists the
            known ones).

    Example:
        >>> import nablanet.nn as nn
        >>> from nablanet.optim import Adam
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        >>> y = np.array([0, 1, 1, 1])
        >>> model = nn.Sequential(nn.Dense(2, 1, rng=0))
        >>> history = fit(model, X, y, loss="binary_cross_entropy_with_logits", optimizer=Adam(model.parameters(), lr=0.1),
        ...               epochs=100, batch_size=None, seed=0, progress=False)
        >>> history["accuracy"][-1]
        1.0

    Notes:
        Per batch the loop adds only constant work to the forward and backward pass: the batch is
        gathered from one permutation drawn per epoch, the loss is read as one scalar to check that
        it is finite, and the parameters are copied into preallocated buffers so that a divergent
        step can be undone (one memory copy of the parameters, no allocation). Per epoch the
        divergence guard adds one more copy, of the weights the epoch's loss is measured at, and
        with validation data it evaluates the validation loss once more, before the first epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if l1 < 0 or l2 < 0:
        raise ValueError(f"penalty strengths must be non-negative, got l1={l1}, l2={l2}")
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    check_model(model)
    optimizer = as_optimizer(optimizer, model.parameters(), **({} if lr is None else {"lr": lr}))
    check_optimizer(optimizer, model.parameters())
    divergence_factor, compile = check_divergence_factor(divergence_factor), check_compile(compile)
    dtype = compute_dtype(model, dtype)
    rng = make_rng(seed)
    parallel = parallel_training(distributed, model, optimizer, rng, sync_batchnorm)
    data = data_source(X, y, dtype, sample_weight=sample_weight, steps_per_epoch=steps_per_epoch, epochs=epochs)
    validation = None if validation_data is None else validation_source(validation_data, dtype, epochs=epochs)
    if validation_data is None and validation_split:
        data, validation = data.split(validation_split, rng=rng if shuffle else None)
    one_sample = data.probe_inputs()
    if parallel.collective and (data.weighted or class_weight is not None):
        raise ValueError("distributed='mpi' does not take sample_weight or class_weight: a weighted batch's mean "
                         "needs the total weight of every rank's shard")
    outputs = model_outputs(loss, _probe_outputs(model, one_sample), loss_weights=loss_weights, metrics=metrics,
                            validation_metrics=validation_metrics)
    loss_fn, metric_fns, validation_metric_fns = outputs.loss_fn, outputs.metric_fns, outputs.validation_metric_fns
    warn_if_activation_applied_twice(model, one_sample, loss_fn)
    data.check_targets(outputs, dtype, metric_fns, class_weight)
    if validation is not None:
        validation.check_targets(outputs, dtype, validation_metric_fns)
    if validation_metrics and validation is None:
        raise ValueError("validation_metrics needs validation data: pass validation_data or validation_split")

    n_samples = data.n_samples
    steps_per_epoch = data.steps_per_epoch(batch_size)  # also checks batch_size
    takes_closure = needs_closure(optimizer)
    if not data.uses_batch_size and (takes_closure or parallel.collective):
        needs = (f"{type(optimizer).__name__} steps on the whole training set at once" if takes_closure else
                 "distributed='mpi' cuts every batch into the ranks' shards")
        raise ValueError(f"X is an iterable of batches, but {needs}: give X as arrays or a Dataset")
    if takes_closure:
        if steps_per_epoch > 1 and batch_size is not _DEFAULT_BATCH_SIZE:
            warnings.warn(f"{type(optimizer).__name__} steps on the whole training set (a closure over all "
                          f"{n_samples} rows per epoch); batch_size={batch_size} is ignored: pass batch_size=None",
                          stacklevel=2)
        batch_size, steps_per_epoch = None, 1
    elif batch_size is not None:
        batch_size = int(batch_size)
    history = History()
    history.params = {"epochs": int(epochs), "batch_size": batch_size if data.uses_batch_size else None,
                      "steps_per_epoch": steps_per_epoch, "samples": n_samples,
                      "validation_samples": 0 if validation is None else validation.n_samples}
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
    callbacks, progress = parallel.prepare(n_samples, batch_size, callbacks, progress)
    if progress:
        callbacks.append(ProgressBar())
    run = TrainingRun(model, optimizer, history, int(epochs), steps_per_epoch, callbacks=callbacks)
    step = _Step(model, optimizer, loss_fn, WeightPenalty(model.parameters(), l1, l2), divide_penalty_by_batch_size,
                 keep_predictions=bool(metric_fns), takes_closure=takes_closure, parallel=parallel)
    step = CompiledStep(step, compile, callbacks) if compile else step
    guard = DivergenceGuard(step.snapshot, divergence_factor, monitor="loss" if validation is None else "val_loss")

    with (_training_environment(fast_math, flush_subnormals, keep_freed_memory), runtime.blas_threads(threads),
          _modes_kept(model), parallel.batch_statistics()):
        try:
            for callback in callbacks:
                callback.on_train_begin(run)
            if validation is not None and divergence_factor is not None and epochs > 0:
                # The first epoch's validation loss is measured after its steps: this is the reference
                # that shows a run diverging from its very first epoch.
                guard.begin_validation(_scores(model, validation, loss_fn, [], batch_size)["loss"])
            for epoch in range(epochs):
                run.epoch = epoch
                for callback in callbacks:
                    callback.on_epoch_begin(run, epoch)
                model.train()
                batches = data.epoch(batch_size, rng if shuffle else None, shard=parallel.shard)
                guard.begin_epoch()
                try:
                    logs = _train_one_epoch(run, step, guard, batches, metric_fns)
                except TrainingDivergedError as error:
                    if not _callbacks_stop_at(run, error):
                        raise
                    break
                parallel.end_epoch()
                if validation is not None:
                    logs.update(_scores(model, validation, loss_fn, validation_metric_fns, batch_size, prefix="val_"))
                learning_rate = _learning_rate(optimizer)
                if learning_rate is not None:
                    logs["lr"] = learning_rate
                history.append(epoch, logs)
                for callback in callbacks:
                    callback.on_epoch_end(run, epoch, logs)
                guard.end_epoch(epoch, logs, last=run.stop_training or epoch == epochs - 1, run=run,
                                learning_rate=learning_rate)
                if run.stop_training:
                    break
            for callback in callbacks:
                callback.on_train_end(run)
        except BaseException:
            # on_train_end is not called on errors (as Keras), but a half-drawn bar must still be closed.
            for callback in callbacks:
                if isinstance(callback, ProgressBar):
                    callback.close()
            raise
    return history


def _callbacks_stop_at(run, error: TrainingDivergedError) -> bool:
    """Whether the callbacks' on_divergence ended training at ``error`` (TerminateOnNaN) rather than let fit raise it."""
    run.stop_training = False  # only a stop asked for in on_divergence counts
    for callback in run.callbacks:
        callback.on_divergence(run, error)
    return run.stop_training


@contextlib.contextmanager
def _modes_kept(model):
    """Every module's mode (``training``) as it was on entry, put back on exit, however the block ends."""
    modes = [(module, module.training) for module in _modules(model)]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _training_environment(fast_math: bool, flush_subnormals: bool, keep_memory: bool):
    """runtime.fast_math() with the parts asked for (none by default: then it changes nothing)."""
    return runtime.fast_math(flush_subnormals=fast_math or flush_subnormals, keep_freed_memory=fast_math or keep_memory)


class _Step:
    """One optimizer step on a minibatch, with the snapshot that lets fit undo a divergent one.

    For an optimizer that needs a closure (L-BFGS) the step is ``optimizer.step(closure)`` with the
    batch of all rows, the closure evaluating the cost and its gradients as the minibatch step does.
    """

    def __init__(self, model, optimizer, loss_fn, weight_penalty: WeightPenalty, divide_penalty_by_batch_size: bool,
                 keep_predictions: bool, takes_closure: bool = False, parallel=None):
        if takes_closure and parallel.collective:
            raise ValueError("distributed='mpi' takes a minibatch optimizer; one that needs a closure (L-BFGS) is not "
                             "supported across ranks")
        self.model = model
        self.parallel = parallel
        self.optimizer = parallel.step_optimizer
        self.loss_fn = loss_fn
        self.weight_penalty = weight_penalty
        self.divide_penalty_by_batch_size = divide_penalty_by_batch_size
        self.keep_predictions = keep_predictions
        self.takes_closure = takes_closure
        # The model's structure is fixed during fit, so its modules are walked once, here.
        self.parameters = model.parameters()
        self.snapshot = StateSnapshot(self.parameters, _buffer_owners(model))

    def __call__(self, X_batch, y_batch, global_rows=None, w_batch=None) -> tuple[float, float, np.ndarray | None]:
        """Take the step, weighted by w_batch; return (data loss, penalty, predictions or None), or raise NonFinite.

        Under MPI ``X_batch`` is this rank's shard of a global batch of ``global_rows`` rows, and the
        data loss returned is the global batch's.
        """
        if self.takes_closure:
            return self._closure_step(X_batch, y_batch, w_batch)
        data_loss, predictions = self._cost(X_batch, y_batch, w_batch)
        penalty_value, penalty_scale = self._penalty(X_batch, global_rows, w_batch)
        data_loss_value = data_loss.item()
        if not self.parallel.collective:
            # Checked before backward(): a NaN cost would only fill the gradients with NaN.
            check_finite(data_loss_value + penalty_value)
        self._backward(data_loss, penalty_scale)
        if self.parallel.collective:
            # After the all-reduce, on the global loss: all ranks stop together (one alone would leave
            # the others waiting in their next all-reduce).
            data_loss_value = self.optimizer.allreduce_gradients(data_loss_value)
            check_finite(data_loss_value + penalty_value)
        self.snapshot.save()
        self.optimizer.step()
        return data_loss_value, penalty_value, self._kept(predictions)

    def _closure_step(self, X_all, y_all, w_all=None) -> tuple[float, float, np.ndarray | None]:
        """``optimizer.step(closure)``; the figures returned are those of the first evaluation (the weights before it)."""
        first = []

        def closure():
            data_loss, predictions = self._cost(X_all, y_all, w_all)
            penalty_value, penalty_scale = self._penalty(X_all, w_batch=w_all)
            data_loss_value = data_loss.item()
            cost_value = data_loss_value + penalty_value
            if not first:
                check_finite(cost_value)
                self.snapshot.save()  # the optimizer has not moved the weights yet
                first.append((data_loss_value, penalty_value, self._kept(predictions)))
            # A non-finite cost at a trial point of a line search is its signal to shrink the step.
            if math.isfinite(cost_value):
                self._backward(data_loss, penalty_scale)
            return cost_value

        self.optimizer.step(closure)
        return first[0]

    def _cost(self, X_batch, y_batch, w_batch=None):
        """(data loss Tensor, predictions) at the current weights: what a compiled step traces."""
        for parameter in self.parameters:
            parameter.grad = None
        predictions = call_model(self.model, X_batch)
        return self.loss_fn(predictions, y_batch, **_weighting(w_batch)), predictions

    def _penalty(self, X_batch, global_rows=None, w_batch=None) -> tuple[float, float]:
        """(The penalty's value, its gradient's scale) at the current weights, in NumPy; (0, 0) without one."""
        if not self.weight_penalty:
            return 0.0, 0.0
        # With weights a batch counts as its total weight (scikit-learn's sw_sum).
        size = global_rows or (num_rows(X_batch) if w_batch is None else float(np.sum(w_batch, dtype=np.float64)))
        rows = size if self.divide_penalty_by_batch_size else 1
        return self.weight_penalty.value() / rows, 1.0 / rows

    def _backward(self, data_loss, penalty_scale: float) -> None:
        data_loss.backward()
        if self.weight_penalty:
            self.weight_penalty.add_gradient(penalty_scale)

    def _kept(self, predictions):
        # A copy, because the output array of a layer may be a buffer that a later op reuses.
        return tree_map(lambda output: np.array(output.data, copy=True), predictions) if self.keep_predictions else None

    def check_parameters(self) -> None:
        """Raise NonFinite if the last step made a parameter NaN or infinite (e.g. a NaN gradient).

        The next batch's loss would reveal it, but after the last batch of a run there is none.
        """
        for parameter in self.parameters:
            # One float64 sum is finite exactly when every entry is, without an N-sized temporary.
            if not np.isfinite(np.sum(parameter.data, dtype=np.float64)):
                raise NonFinite("a parameter became NaN or infinite after the optimizer step", math.nan)


def _train_one_epoch(run, step: _Step, guard: DivergenceGuard, batches, metric_fns) -> dict:
    """Steps over the epoch's batches ``(X_batch, y_batch, w_batch, global_rows)``; returns the epoch's loss, data
    loss, penalty and metrics."""
    weighted_data_loss = weighted_penalty = 0.0
    samples_seen = 0
    batch_predictions, batch_targets, batch_weights = [], [], []
    batch = 0
    try:
        for batch, (X_batch, y_batch, w_batch, global_rows) in enumerate(batches):
            if w_batch is not None and not np.any(w_batch):
                continue  # every weight zero: the batch holds no data, so no step and no figure
            data_loss, penalty_value, predictions = step(X_batch, y_batch, global_rows, w_batch)
            guard.end_batch(data_loss + penalty_value)
            size = global_rows or num_rows(y_batch)
            weighted_data_loss += data_loss * size
            weighted_penalty += penalty_value * size
            samples_seen += size
            if predictions is not None:
                batch_predictions.append(predictions)
                batch_targets.append(y_batch)
                batch_weights.append(w_batch)
            batch_logs = {"loss": data_loss + penalty_value, "data_loss": data_loss, "penalty": penalty_value,
                          "size": size}
            for callback in run.callbacks:
                callback.on_batch_end(run, batch, batch_logs)
            if run.stop_training:
                break
        step.check_parameters()
    except NonFinite as error:
        raise non_finite_error(error, guard, epoch=run.epoch, batch=batch, steps_per_epoch=run.steps_per_epoch,
                               learning_rate=_learning_rate(run.optimizer), history=run.history) from None
    if not samples_seen:
        raise ValueError(f"every batch of epoch {run.epoch} had weights all zero, so no sample counted; give some "
                         "sample of each epoch a positive weight")
    data_loss, penalty_value = weighted_data_loss / samples_seen, weighted_penalty / samples_seen
    logs = {"loss": data_loss + penalty_value, "data_loss": data_loss, "penalty": penalty_value}
    if metric_fns:
        predictions = tree_map(step.parallel.gather, concatenate_rows(batch_predictions))
        targets = tree_map(step.parallel.gather, concatenate_rows(batch_targets))
        weights = None if batch_weights[0] is None else concatenate_rows(batch_weights)
        logs.update(metric_scores(metric_fns, predictions, targets, weights))
    return logs


def predict(model, X, batch_size: int | None = None, *, dtype=None, threads: int | None = None):
    """The model's outputs for ``X``, in evaluation mode and without recording a graph.

    Dropout is off and BatchNorm uses its running statistics while predicting; each module's mode
    is put back as it was afterwards.

    Args:
        model: a nablanet.nn.Module.
        X: inputs ``(N, ...)``, cast to the model's parameter dtype; a tuple or dict of them for a
            model with several inputs, as in fit. Memory-mapped arrays, a Dataset or an iterator of
            batches (X_batch, y_batch) are read a batch at a time (of
            ``nablanet.train.sources.LAZY_BATCH_SIZE`` rows if ``batch_size`` is None); a sparse X is
            densified a batch at a time (without batch_size, about 2^20 entries at a time).
        batch_size: rows per forward pass (to bound memory); ``None``: all at once.
        dtype: as in fit: must match the parameters' dtype if given.
        threads: BLAS threads during the call, as in fit (default 1; the pools' sizes are put back).

    Returns:
        An ndarray ``(N, ...)`` of outputs (logits, if the network ends without an activation); for a
        model with several outputs, a tuple or dict of them, as the model returns them.

    Example:
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(3, 2, rng=0), nn.Dropout(0.5, rng=0))
        >>> predict(model, np.ones((5, 3)), batch_size=2).shape
        (5, 2)
    """
    check_model(model)
    dtype = compute_dtype(model, dtype)
    batches = input_batches(X, batch_size, dtype)
    with runtime.blas_threads(threads):
        return _predictions(model, batches)


def evaluate(model, X, y=None, loss=None, metrics=None, *, batch_size: int | None = None, dtype=None,
             threads: int | None = None, loss_weights=None, sample_weight=None) -> dict:
    """Loss and metrics of ``model`` on ``(X, y)``, computed on the outputs of ``predict``.

    Args:
        model: a nablanet.nn.Module.
        X: inputs ``(N, ...)``, or any data fit takes (a Dataset or an iterable of batches, y None).
        y: targets, as in fit.
        loss: a loss name or function (or one per output, as in fit), or None to report metrics only.
        metrics: names or functions; default as in fit (accuracy for classification losses).
        batch_size: rows per forward pass; ``None``: all at once (data read lazily: in batches of
            ``nablanet.train.sources.LAZY_BATCH_SIZE`` rows).
        dtype: as in fit.
        threads: BLAS threads during the call, as in fit (default 1; the pools' sizes are put back).
        loss_weights: the weights w_k of a model with several outputs, as in fit.
        sample_weight: per-sample weights ``(N,)`` of arrays or a Dataset: the loss and the metrics are
            weighted means, as in fit (a Dataset's or an iterable's batches may carry their own).

    Returns:
        A dict ``{"loss": float, "<metric>": value, ...}`` (the data loss, without any penalty; with
        several outputs also ``<output>_loss`` and ``<output>_<metric>``, as fit's History).

    Example:
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(2, 3, rng=0))
        >>> scores = evaluate(model, np.zeros((4, 2)), np.array([0, 1, 2, 0]), "cross_entropy")
        >>> sorted(scores), round(scores["loss"], 4)  # zero inputs: equal logits, loss = log 3
        (['accuracy', 'loss'], 1.0986)
    """
    check_model(model)
    dtype = compute_dtype(model, dtype)
    data = data_source(X, y, dtype, sample_weight=sample_weight)
    with runtime.blas_threads(threads):
        outputs = model_outputs(loss, _probe_outputs(model, data.probe_inputs()), loss_weights=loss_weights,
                                metrics=metrics)
        data.check_targets(outputs, dtype, outputs.metric_fns)
        return _scores(model, data, outputs.loss_fn, outputs.metric_fns, batch_size)


# --- steps of the loop ---------------------------------------------------------------------------

def _scores(model, data, loss_fn, metric_fns, batch_size, prefix: str = "") -> dict:
    """The loss and metrics on all of ``data`` (a source of nablanet.train.sources), predicted in batches,
    weighted by its weights if it has them."""
    predictions, targets, weights = data.predict(lambda batches: _predictions(model, batches), batch_size)
    scores = {}
    if loss_fn is not None:
        with no_grad():
            scores[prefix + "loss"] = float(loss_fn(as_tensors(predictions), targets, **_weighting(weights)).item())
    scores.update(metric_scores(metric_fns, predictions, targets, weights, prefix))
    return scores


def _predictions(model, batches):
    """The model's outputs (arrays) for batches of inputs, joined; in evaluation mode, without a graph."""
    with _modes_kept(model), no_grad():
        model.eval()
        outputs = [tree_map(_values, call_model(model, X_batch)) for X_batch in batches]
    return concatenate_rows(outputs)


def _probe_outputs(model, one_sample):
    """The model's outputs for the inputs of one sample (in evaluation mode): what shapes and structure it returns."""
    return _predictions(model, [one_sample])


def _learning_rate(optimizer):
    value = getattr(optimizer, "lr_now", None)
    if callable(value):
        value = value()
    return None if value is None else float(value)


def _buffer_owners(model) -> list:
    """(module, attribute name) of every buffer (e.g. BatchNorm running statistics) in the model."""
    return [(module, name) for module in _modules(model) for name in getattr(module, "_buffers", ())]


def _modules(model):
    return list(model.modules()) if hasattr(model, "modules") else []


def _values(output) -> np.ndarray:
    return output._data if isinstance(output, Tensor) else np.asarray(output)
