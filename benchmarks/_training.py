"""Shared parts of the training benchmarks (mlp-784, mlp-small, cnn-28, gru): peers, batches, checks, the report.

A training benchmark script describes its workload (a ``Workload``) and gives, per peer, a builder: a
function of the run's ``Settings`` returning a ``Peer``, whose ``step()`` runs one timed iteration (a
minibatch step; a whole repeat's batches for a peer with its own loop, scikit-learn or nablanet.fit)
and returns the loss. The peers built here are the ones every training workload has: nablanet as a
user writes it (eager, through ``nablanet.jit`` when nablanet has it, and inside ``fit``) and PyTorch
eager with the default and the fused Adam; ``_jax.py`` adds JAX jit. Peers that start from the same
weights and see the same batches must agree on their first losses and on their number of parameters
before any timing is reported.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Callable

import _harness


class Batches:
    """An endless stream of shuffled minibatch indices, reshuffled each epoch, the same for every peer."""

    def __init__(self, n_samples: int, batch_size: int, seed: int = 2):
        import numpy

        self.rng = numpy.random.default_rng(seed)
        self.n_samples, self.batch_size = n_samples, batch_size
        self.order = self.rng.permutation(n_samples)
        self.position = 0

    def next(self):
        if self.position >= self.n_samples:
            self.order = self.rng.permutation(self.n_samples)
            self.position = 0
        index = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return index


@dataclass(frozen=True)
class Settings:
    """What a worker's builder needs to know of the run: its thread limit and the work of one repeat."""

    threads: int
    steps: int        # minibatch steps per timed repeat
    check_steps: int  # steps whose losses are compared before timing


@dataclass
class Peer:
    """One peer of a training workload, built in its worker.

    Attributes:
        step: one timed iteration; returns the loss (of the last batch it trained on).
        samples_per_iteration: training samples one ``step()`` goes through.
        count_parameters: the number of trainable scalars of the peer's model, read from the model
            (called after the check, when scikit-learn has built its weights).
        check: returns the losses of the first ``check_steps`` batches; by default ``step()`` is
            called that many times. Peers with a loop of their own (fit) record them differently.
    """

    step: Callable[[], float]
    samples_per_iteration: int
    count_parameters: Callable[[], int]
    check: Callable[[], list] | None = None


@dataclass
class NablanetModel:
    """A workload's nablanet model as a user builds it, from which every nablanet style is run."""

    model: object
    optimizer: object
    X: object
    y: object
    batches: Batches


@dataclass
class TorchModel:
    """A workload's PyTorch model: ``forward(X batch)`` gives the logits; Adam over ``parameters``."""

    forward: Callable
    parameters: list
    X: object
    y: object
    batches: Batches
    lr: float


@dataclass(frozen=True)
class Workload:
    """A standard workload of PERFORMANCE.md, as a training benchmark times it.

    Attributes:
        name: the workload's name in PERFORMANCE.md.
        title: the report's first line.
        unit: "samples/s" or "steps/s".
        batch_size: samples per minibatch step.
        steps, quick_steps: minibatch steps per timed repeat (full run, --quick).
        check_steps: steps run before timing whose losses are compared with nablanet's.
        loss_rtol: how far a peer's first losses may be from nablanet's (relative).
        parameters: the number of parameters every peer's model must have (None: only equal).
        whole_repeat_peers: peers besides FIT_PEERS whose one iteration is a whole repeat (their own loop).
        unchecked: peers whose losses are not compared (different initial weights).
        distributions: the packages whose versions the env line names.
    """

    name: str
    title: str
    unit: str
    batch_size: int
    steps: int
    quick_steps: int
    check_steps: int
    loss_rtol: float
    parameters: int | None = None
    whole_repeat_peers: tuple = ()
    unchecked: tuple = ()
    distributions: tuple = ("numpy", "torch", "jax", "nablanet")


# The peer that trains in nablanet.runtime.fast_math() (--fast-math): the same builder as "nablanet".
FAST_MATH_PEER = "nablanet-fast-math"
# nablanet.fit's peers: one iteration is one call of fit over a repeat's batches.
FIT_PEERS = ("nablanet-fit", "nablanet-fit-eager", "nablanet-fit-jit")
_ENVIRONMENTS = []


# --- nablanet ----------------------------------------------------------------------------------

def nablanet_peers(setup: Callable[[Settings], NablanetModel]) -> dict:
    """The nablanet peers of a workload, each building its model with ``setup``.

    - ``nablanet``: a user's own loop (``loss.backward()``, ``optimizer.step()``), in a process as the
      user has it: nothing process-wide is switched on.
    - ``nablanet-jit``: the same step function through ``nablanet.jit`` (issue 15's compiled step),
      skipped with a note while nablanet has no ``jit``.
    - ``nablanet-fit``, ``nablanet-fit-eager`` and ``nablanet-fit-jit``: ``nablanet.fit`` over the same
      batches, as is (its default, ``compile="auto"``), with ``compile=False`` and with ``compile=True``
      (the last two skipped while fit has no such argument): every workload is timed in a user's own
      loop and in fit.
    """
    peers = {"nablanet": lambda settings: _nablanet_loop(setup, settings, compiled=False),
             "nablanet-jit": lambda settings: _nablanet_loop(setup, settings, compiled=True),
             "nablanet-fit": lambda settings: _nablanet_fit(setup, settings, compiled=None),
             "nablanet-fit-eager": lambda settings: _nablanet_fit(setup, settings, compiled=False),
             "nablanet-fit-jit": lambda settings: _nablanet_fit(setup, settings, compiled=True)}
    return peers


def _nablanet_parameter_count(model) -> Callable[[], int]:
    return lambda: int(sum(parameter.data.size for parameter in model.parameters()))


def _nablanet_loop(setup, settings: Settings, compiled: bool) -> Peer:
    """One timed iteration: a minibatch step with softmax cross-entropy, eager or through nablanet.jit."""
    import nablanet
    from nablanet.nn import functional as F

    if compiled and not hasattr(nablanet, "jit"):
        raise _harness.PeerUnavailable(_harness.NO_JIT)  # before building: the data take seconds
    built = setup(settings)
    model, optimizer, X, y, batches = built.model, built.optimizer, built.X, built.y, built.batches

    def train_step(X_batch, y_batch):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X_batch), y_batch)
        loss.backward()
        optimizer.step()
        return loss

    if compiled:
        train_step = nablanet.jit(train_step)

    def step():
        index = batches.next()
        return float(train_step(X[index], y[index]))

    return Peer(step, batches.batch_size, _nablanet_parameter_count(model))


def _nablanet_fit(setup, settings: Settings, compiled: bool | None) -> Peer:
    """One timed iteration: one call of ``nablanet.fit`` (one epoch, no shuffling) over the next
    ``settings.steps`` batches of the stream, so its batches are the other peers' batches.

    Called as a user calls it, with the run's thread limit and without metrics (the other peers
    compute none). Gathering the repeat's rows costs one copy of them, as the loop peers' X[index].
    """
    import numpy

    import nablanet
    from nablanet.train.callbacks import Callback

    options = {}
    if compiled is not None:  # None: fit's default
        if "compile" not in inspect.signature(nablanet.fit).parameters:
            raise _harness.PeerUnavailable("this nablanet's fit has no compile= yet (issue 15): eager fit only")
        options["compile"] = compiled
    built = setup(settings)
    batches = built.batches
    if batches.n_samples % batches.batch_size:
        raise _harness.PeerUnavailable(f"fit's batches match the stream's only when the batch size "
                                       f"{batches.batch_size} divides the {batches.n_samples} samples")

    def train(steps, callbacks=()):
        index = numpy.concatenate([batches.next() for _ in range(steps)])
        history = nablanet.fit(built.model, built.X[index], built.y[index], loss="cross_entropy",
                               optimizer=built.optimizer, epochs=1, batch_size=batches.batch_size, shuffle=False,
                               metrics=(), progress=False, threads=settings.threads, callbacks=callbacks, **options)
        return history["loss"][-1]

    class BatchLosses(Callback):
        def __init__(self):
            self.losses = []

        def on_batch_end(self, run, batch, logs):
            self.losses.append(float(logs["loss"]))

    def check():
        recorder = BatchLosses()
        train(settings.check_steps, [recorder])
        return recorder.losses

    return Peer(lambda: train(settings.steps), settings.steps * batches.batch_size,
                _nablanet_parameter_count(built.model), check=check)


def _in_fast_math(builder):
    """The builder, run in nablanet.runtime.fast_math() entered for the worker's life (flushed
    subnormals, freed memory kept for reuse: what nablanet.fit did by default before issue 11)."""
    def build(settings):
        from nablanet import runtime

        environment = runtime.fast_math()
        environment.__enter__()
        _ENVIRONMENTS.append(environment)  # kept open until the worker exits
        return builder(settings)

    return build


# --- PyTorch -----------------------------------------------------------------------------------

def torch_peers(setup: Callable[[Settings], TorchModel]) -> dict:
    """PyTorch eager with ``torch.optim.Adam``'s default implementation (``torch``) and with
    ``Adam(fused=True)`` (``torch-fused``: one kernel for all parameters, CPU included since torch 2.4)."""
    return {"torch": lambda settings: _torch_loop(setup(settings), fused=False),
            "torch-fused": lambda settings: _torch_loop(setup(settings), fused=True)}


def _torch_loop(built: TorchModel, fused: bool) -> Peer:
    import torch

    optimizer = torch.optim.Adam(built.parameters, lr=built.lr, fused=fused)
    loss_fn = torch.nn.CrossEntropyLoss()
    forward, X, y, batches = built.forward, built.X, built.y, built.batches

    def step():
        index = torch.from_numpy(batches.next())
        optimizer.zero_grad()
        loss = loss_fn(forward(X[index]), y[index])
        loss.backward()
        optimizer.step()
        return loss.item()

    return Peer(step, batches.batch_size, lambda: int(sum(p.numel() for p in built.parameters)))


def torch_tensor(array):
    """A float32 or int64 NumPy array as a torch tensor; (in, out) weights are transposed by the caller."""
    import numpy
    import torch

    return torch.from_numpy(numpy.ascontiguousarray(array))


# --- data ------------------------------------------------------------------------------------

def mnist1d_train():
    """MNIST-1D's 4000 training signals (mnist1d.make_dataset's defaults, generated on this machine as
    nablanet.datasets.load_mnist1d makes them, nothing downloaded): X (4000, 40) float32, y (4000,) int64."""
    import numpy

    from nablanet.datasets import load_mnist1d

    X, y, _, _ = load_mnist1d(dtype=numpy.float32)
    return X, y


# --- the worker --------------------------------------------------------------------------------

def checked_peer(builders: dict, peer: str, settings: Settings):
    """Build a peer, run its check (the first losses go to the parent for comparison), return its step."""
    _harness.limit_threads(settings.threads)
    built = builders[peer](settings)
    _harness.limit_threads(settings.threads)  # again: torch sizes its pool when it is imported
    losses = built.check() if built.check else [built.step() for _ in range(settings.check_steps)]
    info = {"losses": [float(loss) for loss in losses], "samples_per_iteration": built.samples_per_iteration,
            "parameters": built.count_parameters()}
    return info, {"train": built.step}


# --- the parent --------------------------------------------------------------------------------

def loss_disagreements(infos: dict, reference: str, rtol: float, unchecked=()) -> list[str]:
    """Steps where a peer's loss differs from the reference peer's by more than ``rtol`` (relative)."""
    problems = []
    expected = infos.get(reference, {}).get("losses")
    if expected is None:
        return problems
    for peer, info in infos.items():
        if peer in unchecked:
            continue
        for k, (ours, theirs) in enumerate(zip(expected, info["losses"])):
            if abs(ours - theirs) > rtol * abs(theirs):
                problems.append(f"step {k}: {reference} loss {ours:.6f} but {peer} {theirs:.6f}")
    return problems


def parameter_disagreements(infos: dict, expected: int | None) -> list[str]:
    """Peers whose model has another number of parameters than ``expected`` (or than each other's)."""
    counts = {peer: info["parameters"] for peer, info in infos.items()}
    if expected is None and counts:
        expected = next(iter(counts.values()))
    return [f"{peer} has {count:,} parameters, the workload {expected:,}"
            for peer, count in counts.items() if count != expected]


def parse_arguments(description: str, peers, argv=None):
    """The command line; ``peers`` are all the peers a worker may be, the default list leaves out fast-math's."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=2, help="thread limit for every peer (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: few steps and repeats")
    default_peers = [peer for peer in peers if peer != FAST_MATH_PEER]
    parser.add_argument("--peers", default=",".join(default_peers), help=f"comma-separated subset of {','.join(peers)}")
    parser.add_argument("--fast-math", action="store_true",
                        help=f"also time {FAST_MATH_PEER}: nablanet's step inside nablanet.runtime.fast_math() "
                             "(subnormals flushed, glibc keeping freed memory)")
    parser.add_argument("--peer", choices=peers, help=argparse.SUPPRESS)  # worker mode, used internally
    arguments = parser.parse_args(argv)
    if arguments.repeats is None:
        arguments.repeats = 3 if arguments.quick else 7
    arguments.peers = [p.strip() for p in arguments.peers.split(",") if p.strip()]
    if arguments.fast_math and FAST_MATH_PEER in peers and FAST_MATH_PEER not in arguments.peers:
        arguments.peers.insert(arguments.peers.index("nablanet") + 1 if "nablanet" in arguments.peers else 0,
                               FAST_MATH_PEER)
    unknown = sorted(set(arguments.peers) - set(peers))
    if unknown:
        parser.error(f"unknown peer(s) {unknown}; choose from {', '.join(peers)}")
    if arguments.threads < 1 or arguments.repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    return arguments


def _with_fast_math(builders: dict) -> dict:
    return {**builders, FAST_MATH_PEER: _in_fast_math(builders["nablanet"])}


def serve_if_worker(script: str, workload: Workload, builders: dict, argv=None) -> bool:
    """Worker mode (``--peer NAME``): serve the parent and return True; otherwise return False."""
    builders = _with_fast_math(builders)
    arguments = parse_arguments(workload.title, tuple(builders), argv)
    if not arguments.peer:
        return False
    _harness.limit_threads(arguments.threads)
    settings = Settings(arguments.threads, workload.quick_steps if arguments.quick else workload.steps,
                        workload.check_steps)
    _harness.serve_peer(lambda: checked_peer(builders, arguments.peer, settings))
    return True


def measure(script: str, workload: Workload, builders: dict, argv=None) -> _harness.Measurement:
    """Run a training benchmark as the parent: start the peers, check them, time them, print the report.

    Returns:
        The throughputs per peer, for benchmarks/standard.py's summary.

    Raises:
        PeerFailed: a peer crashed, or the peers disagree on their first losses or their number of
            parameters (the timings would compare different computations).
    """
    builders = _with_fast_math(builders)
    arguments = parse_arguments(workload.title, tuple(builders), argv)
    print(workload.title)
    env = _harness.environment_line(arguments.threads, list(workload.distributions))
    print("env: " + env)
    print(_harness.load_line())
    n_steps = workload.quick_steps if arguments.quick else workload.steps
    whole = [peer for peer in arguments.peers if peer in workload.whole_repeat_peers + FIT_PEERS]
    print(f"settings: {arguments.repeats} timed repeats per peer after 1 warm-up round, interleaved round-robin, "
          f"one process per peer; a repeat = {n_steps} minibatch steps"
          + (f" ({', '.join(whole)}: one call of its own loop per repeat)" if whole else ""))
    sys.stdout.flush()
    cases = {peer: [("train", 1, 0)] if peer in whole else [("train", n_steps, 2)] for peer in arguments.peers}
    infos, unavailable, seconds = _harness.run_interleaved(
        os.path.abspath(script), arguments.peers, cases, arguments.repeats, arguments.threads,
        extra_args=["--quick"] if arguments.quick else [])
    for peer, reason in unavailable.items():
        print(f"skipped {peer}: {reason}")

    print("\nlosses of the first steps (same weights, same batches):")
    for peer, info in infos.items():
        print(f"  {peer:<18} " + " ".join(f"{loss:.5f}" for loss in info["losses"]))
    problems = loss_disagreements(infos, "nablanet", workload.loss_rtol, unchecked=workload.unchecked)
    problems += parameter_disagreements(infos, workload.parameters)
    if problems:
        raise _harness.PeerFailed("the peers disagree, so the timings would compare different computations:\n  "
                                  + "\n  ".join(problems))
    counts = sorted({info["parameters"] for info in infos.values()})
    print(f"parameters: {', '.join(f'{count:,}' for count in counts)} in every peer's model")

    # A step is one minibatch: steps/s = (samples per iteration / batch size) per second.
    divisor = 1 if workload.unit == "samples/s" else workload.batch_size
    throughput = {peer: [info["samples_per_iteration"] / divisor / s for s in seconds[peer]["train"]]
                  for peer, info in infos.items()}
    print(f"\nthroughput, {workload.unit} (higher is better)")
    baselines = ["nablanet", "nablanet-jit", *FIT_PEERS, FAST_MATH_PEER]
    print(_harness.ratio_table(throughput, workload.unit, baselines, higher_is_better=True,
                               digits=0 if divisor == 1 else 1))
    return _harness.Measurement(workload.name, workload.unit, True, throughput, unavailable, env)


def main(script: str, workload: Workload, builders: dict, argv=None) -> int:
    """A training benchmark's command line: worker mode with --peer, else measure and report."""
    if serve_if_worker(script, workload, builders, argv):
        return 0
    try:
        measure(script, workload, builders, argv)
    except _harness.PeerFailed as failure:
        print(f"\nFAILED, nothing timed is reported: {failure}", file=sys.stderr)
        return 1
    return 0


def entry_points(script: str, workload: Workload, builders: dict):
    """A script's ``(measure(argv), main(argv))``: measure for benchmarks/standard.py, main for its command line."""
    return (lambda argv=None: measure(script, workload, builders, argv),
            lambda argv=None: main(script, workload, builders, argv))
