"""Recurrent layers: RNN (Elman, tanh or ReLU), GRU and LSTM; backpropagation through time is the engine's.

Weights follow the (in, out) layout of Dense, with the gates side by side in PyTorch's order
([r, z, n] for GRU, [i, f, g, o] for LSTM), so PyTorch weights copy across with a transpose.
RNN and GRU run each stacked layer, both its directions, as one primitive over the whole sequence
(``ops.rnn_sequence``, ``ops.gru_sequence``): inside them a sequence is one array. Inside LSTM it is a
list of (N, features) arrays, one per time step: no step slices a sequence-long array, so no step's
gradient is scattered into one.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.checks import check_bool, check_choice, check_float_dtype, check_int, check_real
from nablanet.nn import functional as F
from nablanet.nn.init import make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["RNN", "GRU", "LSTM"]


def _uniform(shape, bound, rng, dtype):
    return rng.uniform(-bound, bound, shape).astype(dtype)


class _Weights(Module):
    """One direction of one layer: W_ih (in, G H), W_hh (H, G H), b_ih, b_hh (G H,) (None without bias), G = number
    of gates."""

    def __init__(self, input_size, hidden_size, gates, rng, dtype, bias=True):
        # U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as PyTorch's recurrent layers.
        bound = 1.0 / math.sqrt(hidden_size)
        self.W_ih = Parameter(_uniform((input_size, gates * hidden_size), bound, rng, dtype))
        self.W_hh = Parameter(_uniform((hidden_size, gates * hidden_size), bound, rng, dtype))
        self.b_ih = Parameter(_uniform((gates * hidden_size,), bound, rng, dtype), regularize=False) if bias else None
        self.b_hh = Parameter(_uniform((gates * hidden_size,), bound, rng, dtype), regularize=False) if bias else None

    @classmethod
    def state_spec(cls, input_size, hidden_size, gates, rng, dtype, bias=True):
        dtype = np.dtype(dtype)
        weights = [("W_ih", ArraySpec((input_size, gates * hidden_size), dtype)),
                   ("W_hh", ArraySpec((hidden_size, gates * hidden_size), dtype))]
        biases = [("b_ih", ArraySpec((gates * hidden_size,), dtype)), ("b_hh", ArraySpec((gates * hidden_size,), dtype))]
        return weights + biases if bias else weights


def _preactivation(w, x_t, h):
    """x W_ih + b_ih + h W_hh + b_hh (without the biases when the layer has none)."""
    if w.b_ih is None:
        return x_t @ w.W_ih + h @ w.W_hh
    return x_t @ w.W_ih + w.b_ih + h @ w.W_hh + w.b_hh


def _biases(w, width):
    """b_ih and b_hh; without bias zeros of ``width`` (constants: no gradient is asked of them)."""
    if w.b_ih is None:
        zeros = np.zeros(width, dtype=w.W_ih.dtype)
        return zeros, zeros
    return w.b_ih, w.b_hh


def _gru_layer(directions, sequence, h0, hidden_size, batch_first):
    """One stacked GRU layer (Cho et al., 2014, as PyTorch) over a whole sequence, one primitive (ops.gru_sequence):
        r = sigma(x W_ir + b_ir + h W_hr + b_hr),  z = sigma(x W_iz + b_iz + h W_hz + b_hz),
        n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h,
    each direction's states side by side at every step; h0 (directions, N, H).
    """
    weights = [(w.W_ih, w.W_hh, *_biases(w, 3 * hidden_size)) for w in directions]
    return ops.gru_sequence(sequence, h0, weights, batch_first=batch_first)


def _rnn_layer(directions, sequence, h0, hidden_size, batch_first, nonlinearity):
    """One stacked Elman layer over a whole sequence, one primitive (ops.rnn_sequence):
        h' = f(x W_ih + b_ih + h W_hh + b_hh), f = tanh or ReLU (nonlinearity="relu"),
    each direction's states side by side at every step; h0 (directions, N, H).
    """
    weights = [(w.W_ih, w.W_hh, *_biases(w, hidden_size)) for w in directions]
    return ops.rnn_sequence(sequence, h0, weights, nonlinearity=nonlinearity, batch_first=batch_first)


def _lstm_cell(w, x_t, state, hidden_size):
    """LSTM (Hochreiter & Schmidhuber, 1997, as PyTorch):
        [i, f, g, o] = [sigma, sigma, tanh, sigma](x W_ih + b_ih + h W_hh + b_hh),
        c' = f * c + i * g,  h' = o * tanh(c').
    """
    h, c = state
    H = hidden_size
    gates = _preactivation(w, x_t, h)
    ifo = ops.sigmoid(ops.concatenate([gates[:, : 2 * H], gates[:, 3 * H:]], axis=1))
    i, f, o = ifo[:, :H], ifo[:, H: 2 * H], ifo[:, 2 * H:]
    c_new = f * c + i * ops.tanh(gates[:, 2 * H: 3 * H])
    return o * ops.tanh(c_new), c_new


def _recurrent_arguments(owner, input_size, hidden_size, num_layers, bidirectional, return_sequences, return_state,
                         dtype, bias=True, batch_first=True, dropout=0.0) -> tuple:
    """A recurrent layer's arguments, checked: by its constructor, and first by its state_spec, so that a wrong
    one is named before the memory of its weights is counted."""
    return (check_int(owner, "input_size", input_size), check_int(owner, "hidden_size", hidden_size),
            check_int(owner, "num_layers", num_layers), check_bool(owner, "bidirectional", bidirectional),
            check_bool(owner, "return_sequences", return_sequences), check_bool(owner, "return_state", return_state),
            check_float_dtype(owner, dtype), check_bool(owner, "bias", bias), check_bool(owner, "batch_first", batch_first),
            check_real(owner, "dropout", dropout, low=0.0, high=1.0))


def _layer_input_size(layer, input_size, hidden_size, directions):
    """Features into stacked layer ``layer``: the input's, then the outputs of both directions below."""
    return input_size if layer == 0 else hidden_size * directions


def _values(x):
    return x.data if hasattr(x, "_data") else x


class _Recurrent(Module):
    """Shared driver of RNN, GRU and LSTM: layers, directions, initial states, outputs."""

    _gates = 1
    _cell = None  # the step function of a layer run step by step (LSTM's)
    _has_cell_state = False

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 return_sequences: bool = True, return_state: bool = False, rng=None, dtype=np.float32):
        input_size, hidden_size, num_layers, bidirectional, return_sequences, return_state, dtype, bias, batch_first, \
            dropout = _recurrent_arguments(type(self).__name__, input_size, hidden_size, num_layers, bidirectional,
                                           return_sequences, return_state, dtype, bias, batch_first, dropout)
        rng = make_rng(rng)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.directions = 2 if bidirectional else 1
        self.return_sequences, self.return_state = return_sequences, return_state
        self.cells = [
            [_Weights(_layer_input_size(layer, input_size, hidden_size, self.directions), hidden_size, self._gates,
                      rng, dtype, bias)
             for _ in range(self.directions)]
            for layer in range(num_layers)
        ]
        # After the weights: the masks of the dropout between stacked layers, drawn in training mode.
        self.rng = rng

    @classmethod
    def state_spec(cls, input_size, hidden_size, *, num_layers=1, bias=True, batch_first=True, dropout=0.0,
                   bidirectional=False, return_sequences=True, return_state=False, dtype=np.float32, **options):
        # A generator: a file's reader takes only as many entries as the file has (num_layers may be huge).
        input_size, hidden_size, num_layers, bidirectional, _, _, dtype, bias, _, _ = _recurrent_arguments(
            cls.__name__, input_size, hidden_size, num_layers, bidirectional, return_sequences, return_state, dtype,
            bias, batch_first, dropout)
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            size = _layer_input_size(layer, input_size, hidden_size, directions)
            for direction in range(directions):
                for name, spec in _Weights.state_spec(size, hidden_size, cls._gates, None, dtype, bias):
                    yield f"cells.{layer}.{direction}.{name}", spec

    def _zero_state(self, batch, dtype):
        zeros = np.zeros((batch, self.hidden_size), dtype=dtype)
        return (zeros, zeros) if self._has_cell_state else zeros

    def forward(self, x, initial_state=None):
        """Run the sequence x: (N, T, input_size) with batch_first (the default), (T, N, input_size) without, as
        PyTorch's; or one unbatched sequence (T, input_size).

        Args:
            x: the input sequence.
            initial_state: h0 (or (h0, c0) for LSTM) of shape (num_layers * directions, N, H), as in
                PyTorch ((num_layers * directions, H) for an unbatched sequence); zeros when None.

        Returns:
            The outputs of the last layer, (N, T, directions * H) with return_sequences ((T, N, directions * H)
            without batch_first, (T, directions * H) unbatched), else the last step's (N, directions * H)
            (for the backward direction, its state after reading the whole sequence). With return_state,
            also the final states, (num_layers * directions, N, H) (a pair (h, c) for LSTM).
        """
        shape = np.shape(_values(x))
        if len(shape) == 2 and shape[1] == self.input_size:
            return self._unbatched(x, initial_state)
        if len(shape) != 3 or shape[2] != self.input_size:
            axes = "N, T" if self.batch_first else "T, N"
            raise ValueError(f"{type(self).__name__}: expected input of shape ({axes}, {self.input_size}), got {shape} "
                             f"(or (T, {self.input_size}) for one unbatched sequence)")
        time_axis = 1 if self.batch_first else 0
        batch, steps = shape[1 - time_axis], shape[time_axis]
        dtype = self.cells[0][0].W_ih.dtype
        states = self._initial_states(initial_state, batch, dtype)
        sequence = self._sequence(x, steps)
        keep_final = self.return_state or not self.return_sequences
        final_states = []
        for layer, directions in enumerate(self.cells):
            if layer:
                sequence = self._dropped(sequence)
            sequence, finals = self._layer(directions, sequence, states[layer], keep_final)
            final_states += finals
        if self.return_sequences:
            output = self._output(sequence, time_axis)
        else:
            last = final_states[-self.directions:]
            hidden = [s[0] if self._has_cell_state else s for s in last]
            output = hidden[0] if self.directions == 1 else ops.concatenate(hidden, axis=1)
        if not self.return_state:
            return output
        if self._has_cell_state:
            return output, (ops.stack([s[0] for s in final_states]), ops.stack([s[1] for s in final_states]))
        return output, ops.stack(final_states)

    # How a sequence is held between layers: here a list of (N, features) steps (_WholeSequence overrides
    # these for RNN and GRU).
    def _sequence(self, x, steps):
        return [x[:, t] if self.batch_first else x[t] for t in range(steps)]

    def _layer(self, directions, sequence, states, keep_final):
        """(the outputs of one stacked layer, its directions' final states), from its directions' initial states."""
        steps = len(sequence)
        outputs_by_direction, finals = [], []
        for direction, (weights, state) in enumerate(zip(directions, states)):
            outputs = [None] * steps
            for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                state = self._step(weights, sequence[t], state)
                outputs[t] = state[0] if self._has_cell_state else state
            outputs_by_direction.append(outputs)
            finals.append(state)
        if len(outputs_by_direction) == 1:
            return outputs_by_direction[0], finals
        return [ops.concatenate([f, b], axis=1) for f, b in zip(*outputs_by_direction)], finals

    def _output(self, sequence, time_axis):
        return ops.stack(sequence, axis=time_axis)

    def _step(self, weights, x_t, state):
        return self._cell(weights, x_t, state, self.hidden_size)

    def _dropped(self, sequence):
        """Inverted dropout of each step's input to a stacked layer (PyTorch's ``dropout``), in training mode only:
        zeroed with probability p, the rest scaled by 1 / (1 - p); one mask per step, drawn in time order (for
        a (T, N, features) sequence one draw of all the steps' masks, the same numbers)."""
        if not self.training or self.dropout == 0.0:
            return sequence
        if not isinstance(sequence, list):
            return F.dropout(sequence, self.dropout, rng=self.rng)
        return [F.dropout(x_t, self.dropout, rng=self.rng) for x_t in sequence]

    def _unbatched(self, x, initial_state):
        """One sequence (T, input_size), as PyTorch's unbatched input: run as a batch of one, which is then dropped."""
        steps = np.shape(_values(x))[0]
        x = ops.reshape(x, (1, steps, self.input_size) if self.batch_first else (steps, 1, self.input_size))
        count = self.num_layers * self.directions
        if initial_state is not None:
            parts = initial_state if self._has_cell_state else (initial_state,)
            for part in parts:
                got = np.shape(_values(part))
                if got != (count, self.hidden_size):
                    raise ValueError(f"{type(self).__name__}: initial state of shape {got}, expected "
                                     f"{(count, self.hidden_size)} for an unbatched sequence (num_layers * "
                                     "directions, hidden_size)")
            parts = [ops.reshape(part, (count, 1, self.hidden_size)) for part in parts]
            initial_state = tuple(parts) if self._has_cell_state else parts[0]
        result = self.forward(x, initial_state)
        output, states = result if self.return_state else (result, None)
        output = ops.reshape(output, (steps, -1) if self.return_sequences else (-1,))
        if not self.return_state:
            return output
        if self._has_cell_state:
            return output, tuple(ops.reshape(s, (count, self.hidden_size)) for s in states)
        return output, ops.reshape(states, (count, self.hidden_size))

    def _initial_states(self, initial_state, batch, dtype):
        """Each stacked layer's list of its directions' initial states."""
        count = self.num_layers * self.directions
        if initial_state is None:
            states = [self._zero_state(batch, dtype)] * count
        else:
            self._check_initial_state(initial_state, batch)
            if self._has_cell_state:
                h0, c0 = initial_state
                states = [(h0[k], c0[k]) for k in range(count)]
            else:
                states = [initial_state[k] for k in range(count)]
        return [states[layer * self.directions: (layer + 1) * self.directions] for layer in range(self.num_layers)]

    def _check_initial_state(self, initial_state, batch):
        expected = (self.num_layers * self.directions, batch, self.hidden_size)
        parts = initial_state if self._has_cell_state else (initial_state,)
        for part in parts:
            got = np.shape(_values(part))
            if got != expected:
                raise ValueError(f"{type(self).__name__}: initial state of shape {got}, expected {expected} "
                                 "(num_layers * directions, N, hidden_size)")


class _WholeSequence(_Recurrent):
    """The driver of RNN and GRU, whose stacked layers are each one primitive over the whole sequence
    (``_run_layer``): a sequence is one array in the input's layout, (N, T, features) or (T, N, features), as
    the primitives read and write it, the directions' states side by side."""

    _run_layer = None  # one stacked layer over the whole sequence, (directions, sequence, h0) -> outputs: RNN's, GRU's

    def _sequence(self, x, steps):
        return x

    def _initial_states(self, initial_state, batch, dtype):
        """Each stacked layer's initial states, (directions, N, H)."""
        if initial_state is None:
            return [np.zeros((self.directions, batch, self.hidden_size), dtype=dtype)] * self.num_layers
        self._check_initial_state(initial_state, batch)
        return [initial_state[layer * self.directions: (layer + 1) * self.directions]
                for layer in range(self.num_layers)]

    def _layer(self, directions, sequence, states, keep_final):
        outputs = self._run_layer(directions, sequence, states)
        if not keep_final:
            return outputs, []
        H = self.hidden_size
        # Each direction's state after its last step: the forward one's at step T - 1, the backward one's at 0.
        ends = [(-1, slice(0, H)), (0, slice(H, 2 * H))][: self.directions]
        return outputs, [outputs[:, t, part] if self.batch_first else outputs[t, :, part] for t, part in ends]

    def _dropped(self, sequence):
        if not self.batch_first:
            return super()._dropped(sequence)
        # The masks are drawn one step at a time, in time order (as RNN and LSTM draw them): time first here.
        return ops.transpose(super()._dropped(ops.transpose(sequence, (1, 0, 2))), (1, 0, 2))

    def _output(self, sequence, time_axis):
        return sequence


@register_layer("rnn", size_argument="input_size", size_axis=-1)
class RNN(_WholeSequence):
    """Elman recurrent layer: h_t = tanh(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh) (or ReLU), as PyTorch's RNN.

    Each stacked layer, both its directions, is one primitive over the whole sequence (``ops.rnn_sequence``).

    Args:
        input_size, hidden_size: feature sizes of x_t and h_t.
        num_layers: stacked layers (each reads the previous one's outputs).
        nonlinearity: "tanh" or "relu", the activation of h_t.
        bias: learn b_ih and b_hh (without, neither exists).
        batch_first: inputs and output sequences are (N, T, features), the default here; False reads
            PyTorch's default layout (T, N, features). The states are (num_layers * D, N, H) either way.
        dropout: the probability of zeroing each input to the stacked layers above the first (their
            predecessors' outputs), in training mode only, as PyTorch's; in [0, 1].
        bidirectional: also read the sequence backwards; outputs are [forward, backward] concatenated.
        return_sequences: output every step (N, T, D H) or only the last (N, D H).
        return_state: also return the final states (num_layers * D, N, H).
        rng: numpy Generator or int seed; weights U(-1/sqrt(H), 1/sqrt(H)) as PyTorch, then the dropout masks.
        dtype: parameter dtype.

    Shape:
        (N, T, input_size) -> (N, T, D * hidden_size) or (N, D * hidden_size); without batch_first
        (T, N, input_size) -> (T, N, D * hidden_size); an unbatched sequence (T, input_size) ->
        (T, D * hidden_size) or (D * hidden_size,), its states (num_layers * D, H).

    Notes:
        PyTorch's default is batch_first=False; nablanet's is True (its layers have always read
        (N, T, features)). Code ported from PyTorch without batch_first=True passes batch_first=False.

    Example:
        >>> RNN(3, 5, rng=0)(np.zeros((2, 7, 3), dtype=np.float32)).shape
        (2, 7, 5)
        >>> RNN(3, 5, nonlinearity="relu", batch_first=False, rng=0)(np.zeros((7, 2, 3), dtype=np.float32)).shape
        (7, 2, 5)
    """

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 return_sequences: bool = True, return_state: bool = False, rng=None, dtype=np.float32):
        self.nonlinearity = check_choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, return_sequences=return_sequences,
                         return_state=return_state, rng=rng, dtype=dtype)

    @classmethod
    def state_spec(cls, input_size, hidden_size, *, nonlinearity="tanh", **options):
        check_choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        return super().state_spec(input_size, hidden_size, **options)

    def _run_layer(self, directions, sequence, h0):
        return _rnn_layer(directions, sequence, h0, self.hidden_size, self.batch_first, self.nonlinearity)


@register_layer("gru", size_argument="input_size", size_axis=-1)
class GRU(_WholeSequence):
    """Gated recurrent unit layer (gates [r, z, n] as PyTorch; see _gru_layer for the equations).

    Arguments and shapes as RNN (bias, batch_first, dropout, unbatched input too), without nonlinearity.
    Each stacked layer, both its directions, is one primitive over the whole sequence (``ops.gru_sequence``).

    Example:
        >>> GRU(1, 6, bidirectional=True, return_sequences=False, rng=0)(np.zeros((4, 40, 1), dtype=np.float32)).shape
        (4, 12)
    """

    _gates = 3

    def _run_layer(self, directions, sequence, h0):
        return _gru_layer(directions, sequence, h0, self.hidden_size, self.batch_first)

@register_layer("lstm", size_argument="input_size", size_axis=-1)
class LSTM(_Recurrent):
    """Long short-term memory layer (gates [i, f, g, o] as PyTorch; see _lstm_cell for the equations).

    Arguments and shapes as RNN (bias, batch_first, dropout, unbatched input too), without nonlinearity; the
    state is a pair (h, c), and so is initial_state.

    Example:
        >>> LSTM(2, 4, rng=0)(np.zeros((3, 5, 2), dtype=np.float32)).shape
        (3, 5, 4)
    """

    _gates = 4
    _cell = staticmethod(_lstm_cell)
    _has_cell_state = True
