"""Model files and checkpoints: the architecture as JSON and the arrays in one .npz that loading never unpickles.

A file written by ``save`` is a NumPy ``.npz`` archive (a zip of ``.npy`` entries, readable with
``np.load(path, allow_pickle=False)``) holding:

==========================  =============================================================================
entry                       contents
==========================  =============================================================================
``header``                  uint8 array: UTF-8 JSON ``{"format": "nablanet", "format_version",
                            "nablanet_version", "numpy_version", "architecture" (Module.config()),
                            "optimizer" (class name or null), "rng", "metadata"}``
``weights/<name>``          one array per entry of ``model.state_dict()`` (parameters, then buffers
                            such as BatchNorm running statistics), e.g. ``weights/layers.0.W``
``optimizer/<key>``         one array per entry of ``optimizer.state_dict()`` (checkpoints only): class
                            name, step count ``t``, hyperparameters, learning rate or schedule, buffers
==========================  =============================================================================

``header["rng"]`` is ``{"generators": [state, ...], "fit": index or null, "modules": {"layers.1.rng":
index, ...}}``: the ``bit_generator.state`` of every distinct numpy Generator (the one given to
``fit`` as ``seed`` and those held by modules, such as ``Dropout.rng``), with arrays written as
``{"ndarray": dtype, "values": [...]}``; a Generator shared by several owners is stored once and
shared again after loading. ``header["metadata"]["preprocessing"]``, when present, is the
``to_dict()`` of the nablanet.preprocessing.Preprocessor given to ``save`` as ``preprocessing=`` (or
saved by ``nablanet train``): scaler statistics, one-hot categories, column and class names, as JSON.

Loading treats the file as untrusted input, and a file that loads is a valid model. In order:

* only a regular file is read (a FIFO, a device or a directory is refused without waiting on it);
* the zip directory: entry names, no duplicates or encryption, and declared sizes that the file's
  bytes can hold (stored entries as they are, deflated ones at most 1032-fold, deflate's limit);
* the header: at most 64 MiB, 500,000 JSON values (commas and brackets) and 200 levels deep, counted
  before it is parsed; strict JSON, so no NaN or infinity;
* the architecture, sized without building anything (nablanet.io.architecture): registered layers
  (nablanet.nn.LAYERS) or ``custom_objects`` only, at most 10,000 modules nested 32 deep, arguments
  bound to each constructor's signature and of its annotated types, and each layer's arrays from its
  ``state_spec``; these must be exactly the file's weight entries, by name, declared size and .npy
  header (shape, dtype; object arrays, which only pickle could read, are refused), before the model is
  built, so building it allocates what the file itself holds;
* values (nablanet.io.values): weights finite, and nonnegative where the layer says so (BatchNorm's
  running variance); optimizer entries finite and a state one update can step from; random generator
  states valid and not stuck (an all-zero Mersenne Twister);
* the preprocessing record, if any: each entry of the right type and size, numbers finite, scales
  positive, categories distinct (``Preprocessor.from_dict``).

Every such problem raises ModelFileError naming the entry. A file cannot run code, and loading it costs
memory in proportion to the file (its entries' declared sizes, bounded by its own), except for a module
class without a ``state_spec`` (from ``custom_objects`` or registered by the user), which is built to
find out its arrays: declare one for such a class whose arrays grow with its arguments.
``save`` refuses (ValueError or TypeError, writing nothing) what ``load`` would refuse.

Writes are atomic (nablanet.io.atomic): the archive goes to a locked temporary file
``.<name>.<random>.nablanet-tmp`` in the target's directory, is flushed and fsynced, then renamed over
the target, so a crash during a save leaves the previous file intact; temporaries a killed save left
behind are removed by the next save of the same target, never one a live save is writing. A symbolic
link at the target is followed: the file it points to is replaced, the link stays.
"""

from nablanet.io.format import FORMAT_VERSION, Checkpoint, ModelFileError
from nablanet.io.reading import load, load_checkpoint
from nablanet.io.writing import save

__all__ = ["save", "load", "load_checkpoint", "Checkpoint", "ModelFileError", "FORMAT_VERSION"]
