"""Data-parallel training across processes: the MPI gradient all-reduce, the shard of a batch, rank 0's weights."""

from nablanet.distributed.mpi import (
    DistributedOptimizer,
    MPITraining,
    RankGroup,
    SingleProcess,
    broadcast_parameters,
    convert_sync_batchnorm,
    mpi_world,
    parallel_training,
    under_mpi,
)

__all__ = ["DistributedOptimizer", "MPITraining", "RankGroup", "SingleProcess", "broadcast_parameters",
           "convert_sync_batchnorm", "mpi_world", "parallel_training", "under_mpi"]
