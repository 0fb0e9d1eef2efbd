"""Shared parts of the training benchmarks (mlp-784, mlp-small, cnn-28, gru): batches, checks, the parent's report.

A training benchmark defines, per peer, a builder returning ``(step, samples_per_iteration)``: ``step()``
runs one timed iteration (a minibatch step, or a whole epoch for scikit-learn) and returns the loss.
Peers that start from the same weights and see the same batches must agree on their first losses
before any timing is reported.
"""

from __future__ import annotations

import argparse
import os
import sys

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


# The peer that trains in nablanet.runtime.fast_math() (--fast-math): the same builder as "nablanet".
FAST_MATH_PEER = "nablanet-fast-math"
_ENVIRONMENTS = []


def nablanet_step(model, optimizer, X, y, batches: Batches):
    """One timed iteration for nablanet: a minibatch step with softmax cross-entropy; returns the loss.

    As a user writes it, in a process as the user has it: nothing process-wide is switched on here
    (the ``nablanet-fast-math`` peer runs the same step inside ``nablanet.runtime.fast_math()``).
    """
    from nablanet.nn import functional as F

    def step():
        index = batches.next()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X[index]), y[index])
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def _in_fast_math(builder):
    """The builder, run in nablanet.runtime.fast_math() entered for the worker's life (flushed
    subnormals, freed memory kept for reuse: what nablanet.fit did by default before issue 11)."""
    def build():
        from nablanet import runtime

        environment = runtime.fast_math()
        environment.__enter__()
        _ENVIRONMENTS.append(environment)  # kept open until the worker exits
        return builder()

    return build


def torch_step(forward, optimizer, X, y, batches: Batches):
    """One timed iteration for PyTorch: forward(X batch) gives logits; returns the loss."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        index = torch.from_numpy(batches.next())
        optimizer.zero_grad()
        loss = loss_fn(forward(X[index]), y[index])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def checked_peer(builders: dict, peer: str, threads: int, check_steps: int, whole_epoch_peers=()):
    """Build a peer, run a few steps (their losses go to the parent for comparison), return its step."""
    _harness.limit_threads(threads)
    step, samples_per_iteration = builders[peer]()
    _harness.limit_threads(threads)  # again: torch sizes its pool when it is imported
    losses = [step() for _ in range(1 if peer in whole_epoch_peers else check_steps)]
    return {"losses": losses, "samples_per_iteration": samples_per_iteration}, {"train": step}


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


def main(script: str, title: str, description: str, builders: dict, *, steps: int, quick_steps: int,
         check_steps: int, loss_rtol: float, batch_size: int, unit: str = "samples/s", whole_epoch_peers=(), unchecked=(),
         distributions=("numpy", "torch", "nablanet"), argv=None) -> int:
    """Run a training benchmark: worker mode with --peer, otherwise start the peers and report.

    Args:
        script: the benchmark file (started again per peer).
        title: first line of the report.
        description: for --help.
        builders: peer name -> builder returning (step, samples per iteration).
        steps, quick_steps: minibatch steps per timed repeat (full run, --quick).
        check_steps: steps run before timing whose losses are compared with nablanet's.
        loss_rtol: how far a peer's first losses may be from nablanet's (relative).
        batch_size: samples per minibatch step (to report steps/s).
        unit: "samples/s" or "steps/s".
        whole_epoch_peers: peers whose iteration is a whole epoch (run separately, fewer repeats).
        unchecked: peers whose losses are not compared (different initial weights).
    """
    builders = {**builders, FAST_MATH_PEER: _in_fast_math(builders["nablanet"])}
    peers = tuple(builders)
    arguments = parse_arguments(description, peers, argv)
    if arguments.peer:
        _harness.limit_threads(arguments.threads)
        _harness.serve_peer(lambda: checked_peer(builders, arguments.peer, arguments.threads, check_steps,
                                                 whole_epoch_peers))
        return 0

    print(title)
    print("env: " + _harness.environment_line(arguments.threads, list(distributions)))
    n_steps = quick_steps if arguments.quick else steps
    print(f"settings: {arguments.repeats} timed repeats per peer after 1 warm-up round, interleaved round-robin, "
          f"one process per peer; a repeat = {n_steps} minibatch steps"
          + (f" ({', '.join(whole_epoch_peers)}: one epoch per repeat)" if whole_epoch_peers else ""))
    sys.stdout.flush()
    stepped = [p for p in arguments.peers if p not in whole_epoch_peers]
    by_epoch = [p for p in arguments.peers if p in whole_epoch_peers]
    try:
        infos, unavailable, seconds = _harness.run_interleaved(
            os.path.abspath(script), stepped, [("train", n_steps, 2)], arguments.repeats, arguments.threads)
        if by_epoch:
            more = _harness.run_interleaved(os.path.abspath(script), by_epoch, [("train", 1, 0)],
                                            min(arguments.repeats, 3), arguments.threads)
            for found, extra in zip((infos, unavailable, seconds), more):
                found.update(extra)
    except _harness.PeerFailed as failure:
        print(f"\nFAILED, nothing timed is reported: {failure}", file=sys.stderr)
        return 1
    for peer, reason in unavailable.items():
        print(f"skipped {peer}: {reason}")

    print("\nlosses of the first steps (same weights, same batches):")
    for peer, info in infos.items():
        print(f"  {peer:<18} " + " ".join(f"{loss:.5f}" for loss in info["losses"]))
    problems = loss_disagreements(infos, "nablanet", loss_rtol, unchecked=tuple(whole_epoch_peers) + tuple(unchecked))
    if problems:
        print("\nFAILED: the peers disagree, so the timings would compare different computations:\n  "
              + "\n  ".join(problems), file=sys.stderr)
        return 1

    # A step is one minibatch: steps/s = (samples per iteration / batch size) per second.
    divisor = 1 if unit == "samples/s" else batch_size
    throughput = {peer: [info["samples_per_iteration"] / divisor / s for s in seconds[peer]["train"]]
                  for peer, info in infos.items()}
    print(f"\nthroughput, {unit} (higher is better)")
    print(_harness.ratio_table(throughput, unit, ["nablanet", FAST_MATH_PEER], higher_is_better=True,
                               digits=0 if divisor == 1 else 1))
    return 0
