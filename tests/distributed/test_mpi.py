"""Data-parallel training under ``mpiexec -n 2``: the same weights as one process, checkpoints, the CLI."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.autodiff.ops import nn as nn_ops
from nablanet.optim import Adam
from nablanet.train import fit

HERE = Path(__file__).parent
MPIEXEC = Path(sys.executable).parent / "mpiexec"
needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or not MPIEXEC.exists(),
                               reason="needs mpi4py and the mpich wheel's mpiexec (pip install 'nablanet[mpi]')")
SOURCE = Path(__file__).resolve().parents[2] / "src"


def _environment() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]))
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def _mpiexec(*command, cwd) -> subprocess.CompletedProcess:
    result = subprocess.run([str(MPIEXEC), "-n", "2", *command], cwd=cwd, env=_environment(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _worker():
    spec = importlib.util.spec_from_file_location("mpi_worker", HERE / "mpi_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ranks(folder: Path) -> list:
    return [dict(np.load(folder / f"rank{rank}.npz")) for rank in range(2)]


def _assert_same_as_one_process(ranks, net, histories):
    expected = _worker().arrays(net, histories)
    for key, value in expected.items():
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=f"{key} differs between the ranks")
        np.testing.assert_allclose(ranks[0][key], value, rtol=0, atol=1e-6, err_msg=key)


@needs_mpi
@pytest.mark.parametrize("mode, one_process", [
    ("train", "train"),
    # Synchronized BatchNorm (fit's sync_batchnorm=True): weights, running statistics and the History's
    # losses of one process on the global batches; and the layers no longer synchronized after fit.
    ("sync-batchnorm", "batchnorm"),
])
def test_two_ranks_train_the_weights_of_one_process(tmp_path, mode, one_process):
    _mpiexec(sys.executable, str(HERE / "mpi_worker.py"), mode, str(tmp_path), cwd=tmp_path)
    # Rank 1 built its model from another seed: the weights it ends with are rank 0's start, trained.
    net, histories = getattr(_worker(), one_process)(None, 0)
    _assert_same_as_one_process(_ranks(tmp_path), net, histories)


@needs_mpi
def test_a_checkpoint_of_an_mpi_run_resumes_under_mpi(tmp_path):
    _mpiexec(sys.executable, str(HERE / "mpi_worker.py"), "resume", str(tmp_path), cwd=tmp_path)
    single = tmp_path / "single"
    single.mkdir()
    net, histories = _worker().resume(None, 0, single)
    _assert_same_as_one_process(_ranks(tmp_path), net, histories)


@needs_mpi
def test_batchnorm_ranks_end_with_equal_weights_and_rank_0s_running_statistics(tmp_path):
    _mpiexec(sys.executable, str(HERE / "mpi_worker.py"), "batchnorm", str(tmp_path), cwd=tmp_path)
    ranks = _ranks(tmp_path)
    assert any("running_mean" in key for key in ranks[0])
    for key in ranks[0]:
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=f"{key} differs between the ranks")
    # Per-rank batch statistics (DDP's default) are not the global batch's: the weights differ from one process's.
    net, histories = _worker().batchnorm(None, 0)
    single = _worker().arrays(net, histories)
    assert not np.allclose(ranks[0]["loss"], single["loss"], rtol=0, atol=1e-6)


@needs_mpi
def test_synchronized_batchnorm_in_a_users_loop_computes_what_one_process_does(tmp_path):
    _mpiexec(sys.executable, str(HERE / "mpi_worker.py"), "batchnorm-loop", str(tmp_path), cwd=tmp_path)
    single = _worker().loop_batchnorm(None, 0)
    for mode, agrees in (("sync", True), ("local", False)):
        ranks = [dict(np.load(tmp_path / f"rank{rank}-{mode}.npz")) for rank in range(2)]
        differences = {}
        for key, value in single.items():
            if key.endswith(("/batchnorm", "/dC/dX")):  # each rank's rows, in rank order the global batch's
                found = np.concatenate([ranks[0][key], ranks[1][key]])
            else:  # gradients after the all-reduce, parameters, running statistics: rank 0's
                if agrees:  # and the same on rank 1 (per-rank running statistics are each rank's own)
                    np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=f"{key} differs between ranks")
                found = ranks[0][key]
            differences[key] = np.max(np.abs(found - value))
        if agrees:
            assert max(differences.values()) <= 1e-6, {k: d for k, d in differences.items() if d > 1e-6}
        else:
            # Per-rank statistics (DDP's default) are not the global batch's: forward, gradients and weights differ.
            for key in ("0/batchnorm", "0/dC/dX", "0/grad/layers.0.W", "layers.1.running_mean", "layers.1.running_var",
                        "layers.2.W"):
                assert differences[key] > 1e-3, (key, differences[key])


@needs_mpi
def test_the_cli_under_mpiexec_writes_one_run_folder(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[data]\nsource = "xor"\n[train]\nepochs = 2\nbatch_size = 2\nvalidation_split = 0.0\n', encoding="utf-8")
    # Without --out each rank would make its own dated folder under nablanet-runs/.
    result = _mpiexec(sys.executable, "-m", "nablanet", "train", str(config), "--no-progress", cwd=tmp_path)
    folders = list((tmp_path / "nablanet-runs").iterdir())
    assert len(folders) == 1, folders
    assert (folders[0] / "model.npz").exists()
    assert result.stdout.count("saved in") == 1, result.stdout
    assert "2 ranks" in result.stdout


@needs_mpi
def test_a_user_error_under_mpiexec_ends_every_rank_in_one_line(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[data]\nsource = "xor"\n[train]\nbatch_size = 2\n', encoding="utf-8")
    result = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "nablanet", "train", str(config), "--out",
                             "runs"], cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    # Every rank finds the mistake; the first to end the job says it, with its rank.
    assert re.search(r"^nablanet train: error \(rank [01]\): distributed training on 2 ranks needs at least 2 rows in "
                     r"every batch, but with 3 samples and batch_size=2 a batch has 1", result.stderr, re.MULTILINE)


def test_distributed_names_mpi_only():
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    with pytest.raises(ValueError, match="distributed must be None or 'mpi', got 'nccl'"):
        fit(model, np.zeros((4, 2)), np.zeros(4), loss="mse", optimizer=Adam(model.parameters()), epochs=1,
            progress=False, distributed="nccl")


def test_mpi_without_mpi4py_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    with pytest.raises(ImportError, match=r"needs mpi4py, which is not installed: pip install 'nablanet\[mpi\]'$"):
        fit(model, np.zeros((4, 2)), np.zeros(4), loss="mse", optimizer=Adam(model.parameters()), epochs=1,
            progress=False, distributed="mpi")


def test_a_single_process_is_not_under_mpi(monkeypatch):
    from nablanet.distributed import under_mpi

    for name in ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # would fail if it were imported
    assert under_mpi() is False


class _TwoRankComm:
    """A communicator of two ranks in one process: rank 1's buffer is given; Allreduce adds it and counts the calls."""

    def __init__(self, other_rank_buffer):
        self.other_rank_buffer = other_rank_buffer
        self.allreduce_calls = 0

    def Get_size(self):
        return 2

    def Get_rank(self):
        return 0

    def Allreduce(self, send, buffer, op):
        self.allreduce_calls += 1
        buffer += self.other_rank_buffer


@needs_mpi
def test_one_allreduce_per_step_sums_the_gradients_weighted_by_shard():
    from nablanet.distributed import DistributedOptimizer
    from nablanet.optim import SGD

    model = nn.Sequential(nn.Dense(3, 4, rng=0, dtype=np.float64), nn.Dense(4, 2, rng=1, dtype=np.float64))
    parameters = model.parameters()
    total = sum(p.data.size for p in parameters)
    other = np.arange(total + 1, dtype=np.float64)  # rank 1's weighted gradients, then its weighted loss
    comm = _TwoRankComm(other)
    optimizer = DistributedOptimizer(SGD(parameters, lr=1.0), comm)
    grads = [np.full(p.data.shape, i + 1.0) for i, p in enumerate(parameters)]
    for parameter, grad in zip(parameters, grads):
        parameter.grad = grad.copy()
    before = [p.data.copy() for p in parameters]
    optimizer.set_shard(3, 10)  # this rank: 3 rows of a global batch of 10
    loss = optimizer.allreduce_gradients(2.0)
    optimizer.step()
    assert comm.allreduce_calls == 1  # one call for all four parameters, not one per parameter
    assert loss == 0.3 * 2.0 + other[-1]
    offset = 0
    for parameter, grad, old in zip(parameters, grads, before):
        expected = 0.3 * grad + other[offset:offset + grad.size].reshape(grad.shape)
        np.testing.assert_array_equal(parameter.grad, expected)
        np.testing.assert_allclose(parameter.data, old - expected, rtol=1e-15)
        offset += grad.size


def test_sync_batchnorm_without_distributed_mpi_is_an_error_naming_it():
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.BatchNorm(2))
    with pytest.raises(ValueError, match=r"^sync_batchnorm=True synchronizes BatchNorm over MPI's ranks and needs "
                                         r"distributed='mpi' \(under mpiexec\)"):
        fit(model, np.zeros((4, 2)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer=Adam(model.parameters()),
            epochs=1, progress=False, sync_batchnorm=True)
    with pytest.raises(TypeError, match="sync_batchnorm must be True or False, got 'yes'"):
        fit(model, np.zeros((4, 2)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer=Adam(model.parameters()),
            epochs=1, progress=False, distributed="mpi", sync_batchnorm="yes")


def test_convert_sync_batchnorm_without_mpi4py_is_one_line_naming_the_extra(monkeypatch):
    from nablanet.distributed import convert_sync_batchnorm

    monkeypatch.setitem(sys.modules, "mpi4py", None)
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.BatchNorm(2))
    with pytest.raises(ImportError, match=r"needs mpi4py, which is not installed: pip install 'nablanet\[mpi\]'$"):
        convert_sync_batchnorm(model)
    assert model.layers[1].process_group is None
    with pytest.raises(TypeError, match="convert_sync_batchnorm needs a nablanet.nn.Module, got function"):
        convert_sync_batchnorm(lambda x: x)


class _OneProcess:
    """A group of this process alone: the total over the group is the vector itself."""

    def sum(self, vector):
        return np.array(vector, dtype=np.float64)


def test_batch_norm_over_a_group_of_one_process_is_batch_norm():
    from nablanet import Tensor

    rng = np.random.default_rng(0)
    x, gamma, beta = rng.normal(size=(5, 3, 4)), rng.normal(size=3), rng.normal(size=3)
    results = []
    for group in (None, _OneProcess()):
        inputs = [Tensor(v, requires_grad=True) for v in (x, gamma, beta)]
        out, mean, var, count = nn_ops.batch_norm(*inputs, return_statistics=True, group=group)
        (out * np.arange(60.0).reshape(5, 3, 4)).sum().backward()
        results.append([out.data, mean, var, count] + [v.grad for v in inputs])
    for plain, grouped in zip(*results):
        np.testing.assert_allclose(grouped, plain, rtol=1e-13, atol=1e-13)


def test_synchronized_batch_norm_refuses_what_it_cannot_do():
    from nablanet import grad, jvp

    x, gamma, beta = np.random.default_rng(0).normal(size=(4, 2)), np.ones(2), np.zeros(2)
    with pytest.raises(NotImplementedError, match=r"synchronized across processes \(group=\) has first-order "
                                                  r"reverse-mode derivatives only, not forward mode \(jvp\)"):
        jvp(lambda v: nn_ops.batch_norm(v, gamma, beta, group=_OneProcess()), (x,), (np.ones_like(x),))
    with pytest.raises(NotImplementedError, match="not a derivative of its gradient"):
        grad(lambda v: grad(lambda w: (nn_ops.batch_norm(w, gamma, beta, group=_OneProcess()) ** 3).sum())(v).sum())(x)
    with pytest.raises(TypeError, match="group must be None or have a sum\\(vector\\) method .* got str"):
        nn_ops.batch_norm(x, gamma, beta, group="world")
    # A rank's shard of one row is fine when synchronized: the group's batch counts, checked on every rank alike.
    layer = nn.BatchNorm(2, dtype=np.float64)
    layer.process_group = _OneProcess()
    with pytest.raises(ValueError, match=r"the group's inputs \(this process's of shape \(1, 2\)\) have 1 value per "
                                         "feature in all; the batch statistics need at least two"):
        layer(x[:1])
