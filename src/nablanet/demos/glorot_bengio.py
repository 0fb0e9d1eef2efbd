"""Glorot & Bengio (2010) as the notes tell it: sigmoid with N(0, 1) weights against Glorot's and He's initializations.

Three deep networks of the same shape, 64 -> 6 hidden layers of 32 units -> 10 classes, are trained on
scikit-learn's 8x8 digits (pixels scaled to [0, 1]) by minibatch SGD on the cross-entropy:

- **sigmoid + N(0, 1)**: the logistic activation with every weight drawn from N(0, 1), the scheme
  the notes single out;
- **tanh + Glorot**: tanh with Glorot's uniform initialization, variance 2 / (fan_in + fan_out);
- **ReLU + He**: ReLU with He's normal initialization, variance 2 / fan_in.

Biases start at zero; the output layer is linear and initialized like the hidden ones. At
initialization (epoch 0) and after each epoch, the whole training set is passed forward and
backward once to measure, per layer l,

- the gradient norm ``||dC/dW^l||_F`` of the mean cross-entropy C with respect to the weights;
- for hidden layers, the **saturated fraction**: the fraction of (sample, unit) pairs at which the
  activation's slope sigma'(z) is below a tenth of its largest value, so that the unit passes back
  less than a tenth of the gradient it could (sigmoid: a (1 - a) < 0.025, i.e. a < 0.026 or
  a > 0.974, |z| > 3.6; tanh: 1 - a^2 < 0.1, i.e. |a| > 0.949, |z| > 1.8; ReLU: a = 0, where the
  slope is exactly 0). For ReLU about half the units are at 0 for any given input by design: that
  is inactivity on one side, not the two-sided saturation of the notes' story.

**The measured ratio.** For a setup s at epoch e, rho_s(e) = ||dC/dW^1||_F / ||dC/dW^out||_F, the
first hidden layer's gradient norm relative to the output layer's. The gain of a setup over the
notes' bad one is G_s(e) = rho_s(e) / rho_{sigmoid+N(0,1)}(e): how much more of the output's
gradient reaches the first layer.

Why (the notes' argument in numbers): with N(0, 1) weights a unit's input z has variance about
n E[a^2] ~ n / 2 for n sigmoid inputs, so z is spread over +-4 already at n = 32 and many units
saturate; back-propagation through a layer multiplies the gradient by roughly n E[sigma'(z)^2]
~ 0.094 sqrt(n) (from E[sigma'(z)^2] ~ (1/6) / (sqrt(2 pi) std(z))), about 0.53 at n = 32. Over six
layers the sigmoid network's first layer gets a few percent of what Glorot's and He's keep (their
per-layer factor is close to 1 by construction). The same estimate says the gradient vanishes only
for narrow layers (n below ~110) and grows backwards for wide ones: the width sweep printed by the
full run shows G shrinking as the layers widen, while saturation stays.

Once training starts the picture changes: the sigmoid network's huge initial logits are corrected,
its output-layer gradient shrinks and its rho grows, so G falls (in the default run it stays above
10 for tanh + Glorot and drops below 10 for ReLU + He from the second epoch on). The tables show
every epoch.

Saturation, the other half of the notes' story, is there from the start but not concentrated at
the top: at initialization 17-56% of the sigmoid network's units are saturated in each hidden
layer (29-38% averaged over the six layers, for seeds 0-9; the top layer is the most saturated for
half of those seeds), while the tanh + Glorot network has well under 1%.

Claims (at the demo's width 32, at initialization): G > 10 for both tanh + Glorot and ReLU + He
(11-45 for seeds 0-9); the sigmoid + N(0, 1) network's saturated fraction averaged over its hidden
layers exceeds 25% while no hidden layer of the tanh + Glorot network reaches 1%.

References:
    X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010. K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers",
    ICCV 2015.
"""

from __future__ import annotations

import numpy as np

from nablanet import datasets, nn
from nablanet.demos._common import command_line, format_table, save_figure
from nablanet.nn import functional as F
from nablanet.optim import SGD
from nablanet.plot._figures import load_matplotlib
from nablanet.runtime import flush_denormals
from nablanet.train import fit
from nablanet.train.callbacks import Callback

__all__ = ["SETUPS", "DEPTH", "WIDTH", "deep_network", "measure", "train_and_monitor", "width_sweep", "run", "main"]

# name -> (activation, weight initializer)
SETUPS = {
    "sigmoid + N(0,1)": ("sigmoid", "normal"),
    "tanh + Glorot": ("tanh", "glorot_uniform"),
    "ReLU + He": ("relu", "he_normal"),
}
BASELINE = "sigmoid + N(0,1)"
DEPTH = 6
WIDTH = 32
LEARNING_RATE = 0.1
BATCH_SIZE = 32
SWEEP_WIDTHS = (16, 32, 64, 128, 256)

# A unit is saturated where its slope is below this fraction of the activation's largest slope.
SATURATION_LEVEL = 0.1
# sigma'(z) / max sigma' written with the output a = sigma(z), which is what a Dense layer returns.
_RELATIVE_SLOPE = {
    "sigmoid": lambda a: a * (1.0 - a) / 0.25,
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
}


def deep_network(activation: str, init: str, *, width: int = WIDTH, depth: int = DEPTH, rng=None):
    """``64 -> depth x Dense(width, activation) -> Dense(10)``, every weight drawn from ``init``.

    Example:
        >>> model = deep_network("tanh", "glorot_uniform", rng=0)
        >>> len(model), model[0].W.shape, model[-1].W.shape
        (7, (64, 32), (32, 10))
    """
    rng = np.random.default_rng(rng)
    layers, fan_in = [], 64
    for _ in range(depth):
        layers.append(nn.Dense(fan_in, width, activation=activation, init=init, rng=rng))
        fan_in = width
    layers.append(nn.Dense(fan_in, 10, init=init, rng=rng))
    return nn.Sequential(*layers)


def measure(model, activation: str, X, y) -> dict:
    """One forward and backward pass over ``(X, y)``: loss, per-layer gradient norms, saturated fractions.

    Returns:
        ``{"loss": float, "grad_norms": [||dC/dW^l||_F for every layer], "saturation": [fraction
        for every hidden layer]}``.
    """
    outputs = {}
    handles = [layer.register_forward_hook(lambda module, inputs, output, index=index:
                                           outputs.__setitem__(index, np.asarray(output.data)))
               for index, layer in enumerate(model.layers[:-1])]
    try:
        model.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    relative_slope = _RELATIVE_SLOPE[activation]
    return {
        "loss": float(loss.item()),
        "grad_norms": [float(np.linalg.norm(layer.W.grad)) for layer in model.layers],
        "saturation": [float(np.mean(relative_slope(outputs[index]) < SATURATION_LEVEL))
                       for index in range(len(model.layers) - 1)],
    }


class _Monitor(Callback):
    """Per-batch gradient norms of every layer, and a full :func:`measure` after each epoch."""

    def __init__(self, model, activation, X, y):
        self.model, self.activation, self.X, self.y = model, activation, X, y
        self.steps = []
        self.epochs = []

    def on_batch_end(self, run, batch, logs):
        # fit leaves the batch's gradients in p.grad until the next batch clears them.
        self.steps.append([float(np.linalg.norm(layer.W.grad)) for layer in self.model.layers])

    def on_epoch_end(self, run, epoch, logs):
        self.epochs.append(measure(self.model, self.activation, self.X, self.y))


def train_and_monitor(activation: str, init: str, X, y, *, epochs: int, seed) -> dict:
    """Train one setup by SGD and record :func:`measure` at initialization and after every epoch.

    Returns:
        ``{"epochs": [measure() at epoch 0 (initialization), 1, ..., epochs], "steps": per-batch
        lists of the layers' gradient norms}``.
    """
    model = deep_network(activation, init, rng=seed)
    with flush_denormals():
        # Saturated sigmoids make float32 subnormals (below 1.2e-38), many times slower on x86.
        initial = measure(model, activation, X, y)
    monitor = _Monitor(model, activation, X, y)
    # The saturated sigmoids make subnormals while training too; fit flushes them only when asked.
    fit(model, X, y, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=LEARNING_RATE), epochs=epochs,
        batch_size=BATCH_SIZE, seed=seed, progress=False, callbacks=[monitor], flush_subnormals=True)
    return {"epochs": [initial, *monitor.epochs], "steps": monitor.steps}


def width_sweep(X, y, *, widths=SWEEP_WIDTHS, seeds=(0, 1, 2)) -> dict:
    """The gain G at initialization for each hidden width: the median over ``seeds`` per setup.

    Returns:
        ``{width: {setup: median G}}`` for the setups other than the baseline.
    """
    gains = {}
    with flush_denormals():
        for width in widths:
            ratios = {name: [] for name in SETUPS}
            for seed in seeds:
                for name, (activation, init) in SETUPS.items():
                    model = deep_network(activation, init, width=width, rng=seed)
                    norms = measure(model, activation, X, y)["grad_norms"]
                    ratios[name].append(norms[0] / norms[-1])
            baseline = np.array(ratios[BASELINE])
            gains[width] = {name: float(np.median(np.array(values) / baseline))
                            for name, values in ratios.items() if name != BASELINE}
    return gains


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Train the three setups, print gradient norms and saturation per layer, draw them.

    Args:
        out_dir: directory for ``glorot_bengio.png``.
        quick: 1 epoch instead of 4 and no width sweep.
        seed: initial weights (the same seed for the three setups) and minibatch order.

    Returns:
        ``{"setups": {name: train_and_monitor()}, "ratio": {name: [rho(e) for e = 0..epochs]},
        "gain": {name: [G(e)]}, "width_sweep": {width: {name: G at init}} (empty with quick),
        "files": [png path]}``.
    """
    epochs = 1 if quick else 4
    X, y = datasets.load_digits(dtype=np.float32)
    X = X / np.float32(16.0)
    setups = {name: train_and_monitor(activation, init, X, y, epochs=epochs, seed=seed)
              for name, (activation, init) in SETUPS.items()}
    ratio = {name: [record["grad_norms"][0] / record["grad_norms"][-1] for record in result["epochs"]]
             for name, result in setups.items()}
    gain = {name: [r / b for r, b in zip(ratio[name], ratio[BASELINE])] for name in SETUPS}

    layer_names = [f"hidden {i}" for i in range(1, DEPTH + 1)] + ["output"]
    for label, e in (("at initialization", 0), (f"after epoch {epochs}", epochs)):
        rows = [[name, f"{setups[name]['epochs'][e]['loss']:.3f}",
                 *(f"{v:.2e}" for v in setups[name]["epochs"][e]["grad_norms"])] for name in SETUPS]
        print(format_table(["setup", "loss", *layer_names], rows, title=f"||dC/dW|| per layer, {label}"))
        print()
        rows = [[name, *(f"{v:.2f}" for v in setups[name]["epochs"][e]["saturation"])] for name in SETUPS]
        print(format_table(["setup", *layer_names[:-1]], rows,
                           title=f"saturated fraction (slope < 10% of max) per hidden layer, {label}"))
        print()
    rows = [[e, *(f"{ratio[name][e]:.3f}" for name in SETUPS),
             *(f"{gain[name][e]:.1f}" for name in SETUPS if name != BASELINE)] for e in range(epochs + 1)]
    print(format_table(["epoch", *(f"rho {name}" for name in SETUPS),
                        *(f"G {name}" for name in SETUPS if name != BASELINE)], rows,
                       title="rho = ||dC/dW^1|| / ||dC/dW^out||;  G = rho / rho(sigmoid + N(0,1));  "
                             "epoch 0 = initialization"))
    print()
    sweep = {}
    if not quick:
        sweep = width_sweep(X[:512], y[:512])
        rows = [[width, f"{0.094 * np.sqrt(width):.2f}", *(f"{values[name]:.1f}" for name in values)]
                for width, values in sweep.items()]
        print(format_table(["width", "sigmoid gain/layer ~0.094 sqrt(n)",
                            *(f"G {name}" for name in SETUPS if name != BASELINE)], rows,
                           title=f"gain G at initialization against the hidden width ({DEPTH} hidden layers, "
                                 "median of 3 seeds, first 512 digits)"))
        print()
    path = save_figure(_figure(setups, gain, sweep, epochs), out_dir, "glorot_bengio.png")
    return {"setups": setups, "ratio": ratio, "gain": gain, "width_sweep": sweep, "files": [path]}


def _figure(setups, gain, sweep, epochs):
    Figure = load_matplotlib().figure.Figure

    from nablanet import plot

    layer_names = [f"hidden {i}" for i in range(1, DEPTH + 1)] + ["output"]
    figure = Figure(figsize=(16.0, 9.0), layout="constrained")
    axes = figure.subplots(2, 3)
    top_low = min(min(min(step) for step in result["steps"]) for result in setups.values())
    top_high = max(max(max(step) for step in result["steps"]) for result in setups.values())
    for ax, (name, result) in zip(axes[0], setups.items()):
        plot.gradient_norms([dict(zip(layer_names, step)) for step in result["steps"]], x_label="SGD step", ax=ax,
                            title=f"{name}: ||dC/dW|| per minibatch")
        ax.set_ylim(top_low / 2, top_high * 2)

    depth_ax, saturation_ax, gain_ax = axes[1]
    layers = np.arange(1, DEPTH + 2)
    for index, (name, result) in enumerate(setups.items()):
        color = f"C{index}"
        depth_ax.plot(layers, result["epochs"][0]["grad_norms"], marker="o", color=color, label=f"{name}, init")
        depth_ax.plot(layers, result["epochs"][-1]["grad_norms"], marker="s", color=color, linestyle="--",
                      label=f"{name}, epoch {epochs}")
        saturation_ax.plot(layers[:-1], result["epochs"][0]["saturation"], marker="o", color=color,
                           label=f"{name}, init")
        saturation_ax.plot(layers[:-1], result["epochs"][-1]["saturation"], marker="s", color=color, linestyle="--",
                           label=f"{name}, epoch {epochs}")
    depth_ax.set_yscale("log")
    depth_ax.set_xticks(layers, [*(str(i) for i in range(1, DEPTH + 1)), "out"])
    depth_ax.set_xlabel("layer")
    depth_ax.set_ylabel("||dC/dW|| (whole training set)")
    depth_ax.set_title("gradient norm by layer")
    saturation_ax.set_xticks(layers[:-1])
    saturation_ax.set_ylim(-0.03, 1.03)
    saturation_ax.set_xlabel("hidden layer")
    saturation_ax.set_ylabel("fraction with slope < 10% of max")
    saturation_ax.set_title("saturated units (ReLU: inactive units)")

    others = [name for name in SETUPS if name != BASELINE]
    if sweep:
        widths = list(sweep)
        for index, name in enumerate(others, start=1):
            gain_ax.plot(widths, [sweep[width][name] for width in widths], marker="o", color=f"C{index}", label=name)
        gain_ax.set_xscale("log", base=2)
        gain_ax.set_xticks(widths, [str(width) for width in widths])
        gain_ax.minorticks_off()
        gain_ax.set_xlabel("hidden width (at initialization)")
        gain_ax.set_title("gain G over sigmoid + N(0,1) against width")
    else:
        steps = np.arange(0, epochs + 1)
        for index, name in enumerate(others, start=1):
            gain_ax.plot(steps, gain[name], marker="o", color=f"C{index}", label=name)
        gain_ax.set_xticks(steps)
        gain_ax.set_xlabel("epoch (0 = initialization)")
        gain_ax.set_title("gain G over sigmoid + N(0,1)")
    gain_ax.axhline(10.0, color="0.5", linestyle=":", label="G = 10")
    gain_ax.axhline(1.0, color="0.8", linewidth=0.8)
    gain_ax.set_yscale("log")
    gain_ax.set_ylabel("G = rho / rho(sigmoid + N(0,1))")
    for ax in axes[1]:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    figure.suptitle(f"Deep networks ({DEPTH} hidden layers of {WIDTH}) on the 8x8 digits: "
                    f"where the gradient goes, and which units saturate")
    return figure


def main(argv=None) -> int:
    """``python -m nablanet.demos.glorot_bengio [--out DIR] [--quick] [--seed N]``."""
    return command_line(run, argv, prog="nablanet demo glorot_bengio", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
