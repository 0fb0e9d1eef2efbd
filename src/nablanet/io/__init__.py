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
shared again after loading.

Loading treats the file as untrusted input: it reads the zip directory first and refuses entries
with unexpected names, encryption or declared sizes beyond those of the arrays it expects (zip
bombs); it builds only registered layers and optimizers (nablanet.nn.LAYERS,
nablanet.optim.OPTIMIZERS) or ``custom_objects``; it parses each ``.npy`` header before reading data
and refuses object arrays (which only pickle could read), and any shape or dtype other than those of
the rebuilt model. Every such problem raises ModelFileError. A file cannot run code, but its
architecture decides how large a model is built before the weights are compared with it: load files
from untrusted sources in a process with a memory limit.

Writes are atomic: the archive goes to a temporary file in the target's directory, is flushed and
fsynced, then renamed over the target, so a crash during a save leaves the previous file intact.
"""

from nablanet.io.format import FORMAT_VERSION, Checkpoint, ModelFileError
from nablanet.io.reading import load, load_checkpoint
from nablanet.io.writing import save

__all__ = ["save", "load", "load_checkpoint", "Checkpoint", "ModelFileError", "FORMAT_VERSION"]
