"""The old home of nablanet.experiment (``nablanet train``'s TOML configs): its public names, re-exported."""

from nablanet.experiment import (
    DATASETS, LAYERS, OPTIMIZERS, SCHEDULES, SCHEMA, Config, ConfigError, Data, Option, Preprocessor, Task,
    build_model, build_optimizer, fit_config, load_config, load_data, make_task, parse_override, read_source,
    reference, score_names, sweep_settings, to_toml,
)

__all__ = [
    "ConfigError", "Config", "Option", "SCHEMA", "DATASETS", "OPTIMIZERS", "SCHEDULES", "LAYERS", "load_config",
    "parse_override", "to_toml", "Data", "Task", "Preprocessor", "load_data", "read_source", "make_task",
    "build_model", "build_optimizer", "fit_config", "score_names", "sweep_settings", "reference",
]
