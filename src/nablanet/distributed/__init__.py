"""Data-parallel training across processes: the MPI gradient all-reduce, the shard of a batch, rank 0's weights."""

from nablanet.distributed.mpi import (
    DistributedOptimizer,
    MPITraining,
    SingleProcess,
    broadcast_parameters,
    mpi_world,
    parallel_training,
    under_mpi,
)

__all__ = ["DistributedOptimizer", "MPITraining", "SingleProcess", "broadcast_parameters", "mpi_world",
           "parallel_training", "under_mpi"]
