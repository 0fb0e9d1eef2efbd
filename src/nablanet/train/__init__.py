"""Training: fit / predict / evaluate, minibatches and splits, data read a batch at a time (Datasets, .npy shards,
iterables of batches), models with several inputs and outputs, callbacks (stopping, learning rates, checkpoints,
logs, progress), metrics, and the divergence guard."""

from nablanet.train import callbacks, data, datasets, divergence, history, memory, metrics, outputs, sources, tuning
from nablanet.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from nablanet.train.data import iterate_minibatches, minibatch_indices, train_validation_split
from nablanet.train.datasets import ArrayDataset, NpyShards, SampleDataset
from nablanet.train.divergence import DivergenceWarning, TrainingDivergedError
from nablanet.train.history import History, TrainingRun
from nablanet.train.loop import evaluate, fit, predict
from nablanet.train.memory import keep_freed_memory
from nablanet.train.metrics import (
    accuracy,
    confusion_matrix,
    f1,
    fbeta,
    get_metric,
    mae,
    mse,
    precision,
    r2,
    recall,
    roc_auc,
    top_k_accuracy,
)
from nablanet.train.tuning import OptunaPruning

__all__ = [
    "fit", "predict", "evaluate", "History", "TrainingRun", "TrainingDivergedError", "DivergenceWarning",
    "Callback", "LambdaCallback", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "TerminateOnNaN",
    "ModelCheckpoint", "CSVLogger", "ProgressBar", "OptunaPruning",
    "minibatch_indices", "iterate_minibatches", "train_validation_split",
    "ArrayDataset", "NpyShards", "SampleDataset",
    "accuracy", "confusion_matrix", "mse", "mae", "r2", "get_metric",
    "precision", "recall", "f1", "fbeta", "roc_auc", "top_k_accuracy",
    "keep_freed_memory", "callbacks", "data", "datasets", "divergence", "history", "memory", "metrics", "outputs",
    "sources", "tuning",
]
