"""The worker of tests/test_io_hostile.py: loads hostile model files one after another under a memory limit
and reports, per file, whether it was refused with ModelFileError or loaded as the reference model.

Run as ``python hostile_io_worker.py JOB.json``; prints one JSON object. Also the home of the file
crafting helpers the test uses (``entries_of``, ``write_zip``), so that the two make files alike.
"""

import hashlib
import json
import os
import resource
import signal
import sys
import time
import warnings
import zipfile

import numpy as np
from numpy.lib import format as npy_format


def entries_of(path) -> list:
    """A trusted model file's entries as [(name, array)], the header decoded to a dict."""
    with np.load(path, allow_pickle=False) as archive:
        entries = [(name, archive[name]) for name in archive.files]
    return [(name, json.loads(value.tobytes()) if name == "header" else value) for name, value in entries]


def write_zip(path, entries, *, compression=zipfile.ZIP_STORED):
    """Write [(name, value)] as a zip of .npy entries: an array, a dict (a JSON header, NaN allowed) or raw bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, value in entries:
                if isinstance(value, dict):
                    value = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
                with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                    if isinstance(value, bytes):
                        entry.write(value)
                    else:
                        npy_format.write_array(entry, value, allow_pickle=value.dtype.hasobject)
    return path


# --- the cases of a job ---------------------------------------------------------------------------

def _truncations(data: bytes, _job):
    for n in range(len(data)):
        yield f"first {n} bytes", data[:n]


def _byte_mutations(data: bytes, job):
    """Random damage of the kinds disks, networks and people do: flips, extreme fields, overwrites, cuts, insertions."""
    rng = np.random.default_rng(job["seed"])
    extremes = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1]
    for i in range(job["count"]):
        mutated = bytearray(data)
        kind = rng.integers(6)
        at = int(rng.integers(len(data)))
        if kind == 0:
            for position in rng.integers(len(data), size=rng.integers(1, 5)):
                mutated[position] ^= int(rng.integers(1, 256))
        elif kind == 1:
            width = int(rng.choice([2, 4, 8]))
            value = int(rng.choice(extremes)) % 2**(8 * width)
            mutated[at:at + width] = value.to_bytes(width, "little")
        elif kind == 2:
            mutated[at:at + int(rng.integers(1, 65))] = rng.bytes(int(rng.integers(1, 65)))
        elif kind == 3:
            del mutated[at:at + int(rng.integers(1, 257))]
        elif kind == 4:
            mutated[at:at] = rng.bytes(int(rng.integers(1, 65)))
        else:
            size = int(rng.integers(1, 257))
            mutated[at:at] = data[max(0, at - size):at]
        yield f"mutation {i} (kind {kind} at {at})", bytes(mutated)


def _array_mutations(data: bytes, job):
    """Valid zip files with one entry changed in a way that must be refused or must not matter: NaN or infinity
    in a float array, a negative value where only nonnegative ones are valid, another shape, another dtype,
    the entry dropped, doubled or renamed; the same values big-endian, or the archive deflated."""
    rng = np.random.default_rng(job["seed"])
    entries = entries_of(job["reference"])
    nonnegative = [k for k, (name, _) in enumerate(entries) if name.endswith("running_var") or name.startswith(
        ("optimizer/v.", "optimizer/v_max."))]
    floats = [k for k, (name, value) in enumerate(entries) if name != "header" and value.dtype.kind == "f"]
    for i in range(job["count"]):
        changed = [(name, value.copy() if isinstance(value, np.ndarray) else json.loads(json.dumps(value)))
                   for name, value in entries]
        kind = int(rng.integers(9))
        k = int(rng.choice(floats if kind == 0 else nonnegative if kind == 1 else range(1, len(changed))))
        name, array = changed[k]
        compression = zipfile.ZIP_STORED
        if kind == 0:
            array.reshape(-1)[rng.integers(max(array.size, 1))] = rng.choice([np.nan, np.inf, -np.inf])
        elif kind == 1:
            array.reshape(-1)[rng.integers(array.size)] = -1.0 - rng.random()
        elif kind == 2:
            shape = array.shape
            while shape == array.shape:
                shape = tuple(int(n) for n in rng.integers(0, 5, size=rng.integers(0, 3)))
            array = np.zeros(shape, dtype=array.dtype)
        elif kind == 3:
            dtype = array.dtype
            while dtype == array.dtype:
                dtype = np.dtype(rng.choice(["float16", "float32", "float64", "int64", "complex64", "<U3", "bool"]))
            try:
                array = array.astype(dtype)
            except ValueError:  # a class name as a number
                array = np.zeros(array.shape, dtype)
        elif kind == 4:
            array = array.astype(array.dtype.newbyteorder(">"))  # the same values, big-endian
        elif kind == 7:
            name = name + str(rng.choice(["x", ".1", "/../x", "_"]))
        elif kind == 8:
            compression = zipfile.ZIP_DEFLATED
        if kind == 5:
            del changed[k]
        elif kind == 6:
            changed.append((name, array))
        else:
            changed[k] = (name, array)
        path = job["scratch"] + ".zip"
        write_zip(path, changed, compression=compression)
        with open(path, "rb") as stream:
            yield f"array mutation {i} (kind {kind} of {entries[k][0]})", stream.read()


def _files(_data, job):
    for label, path in job["files"]:
        yield label, path


GENERATORS = {"truncations": _truncations, "bytes": _byte_mutations, "arrays": _array_mutations, "files": _files}


# --- running them ---------------------------------------------------------------------------------

def fingerprint(checkpoint) -> str:
    """Everything a checkpoint holds, as one hash: architecture, arrays (dtype, shape, bytes), generators, metadata."""
    from nablanet.io.format import _encode_state, _generator_slots

    def arrays(state):
        return [(key, value.dtype.str, value.shape, hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest())
                for key, value in state.items()]

    record = {
        "config": checkpoint.model.config(),
        "weights": arrays(checkpoint.model.state_dict()),
        "optimizer": None if checkpoint.optimizer is None else arrays(checkpoint.optimizer.state_dict()),
        "rng": None if checkpoint.rng is None else _encode_state(checkpoint.rng.bit_generator.state),
        "module_rngs": [(name, _encode_state(getattr(module, attribute).bit_generator.state))
                        for name, module, attribute in _generator_slots(checkpoint.model)],
        "metadata": checkpoint.metadata,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


class _Timeout(Exception):
    pass


def _resident_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> None:
    """Make the kernel's peak resident size (VmHWM) the current one (Linux 4.0+), so each case's peak is its own."""
    with open("/proc/self/clear_refs", "w") as stream:
        stream.write("5")


def _peak_resident_bytes() -> int:
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _raise_timeout(*_):
    raise _Timeout


def run(job: dict) -> dict:
    from nablanet import io as nio

    with open(job["reference"], "rb") as stream:
        data = stream.read()
    expected = fingerprint(nio.load_checkpoint(job["reference"]))
    cases = GENERATORS[job["kind"]](data, job)
    baseline = _resident_bytes()
    # Every case from here on runs with at most memory_limit bytes more address space than the worker has now.
    resource.setrlimit(resource.RLIMIT_AS, (_address_space_bytes() + job["memory_limit"], resource.RLIM_INFINITY))
    signal.signal(signal.SIGALRM, _raise_timeout)
    results = []
    for label, contents in cases:
        if isinstance(contents, bytes):
            path = job["scratch"]
            with open(path, "wb") as stream:
                stream.write(contents)
        else:
            path = contents
        _reset_peak()
        resident = _resident_bytes()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        message = ""
        signal.setitimer(signal.ITIMER_REAL, job["wall_limit"])
        try:
            outcome = "identical" if fingerprint(nio.load_checkpoint(path)) == expected else "different"
        except nio.ModelFileError as error:
            outcome, message = "refused", str(error)
        except _Timeout:
            outcome = "timeout"
        except MemoryError:
            outcome = "memory"
        except Exception as error:  # noqa: BLE001 - reported: anything but ModelFileError is a failure
            outcome, message = f"error {type(error).__name__}", str(error)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        results.append({"case": label, "outcome": outcome, "message": message[:300], "cpu": cpu,
                        "wall": time.perf_counter() - wall, "peak": _peak_resident_bytes() - resident})
    return {"results": results, "baseline_bytes": baseline}


if __name__ == "__main__":
    with open(sys.argv[1]) as job_file:
        print(json.dumps(run(json.load(job_file))))
