"""nablanet.experiment's old import path: nablanet.config keeps every public name it had, as the same objects."""

import nablanet.config
import nablanet.experiment

# nablanet.config's __all__ before it became nablanet.experiment.
PUBLIC_NAMES = [
    "ConfigError", "Config", "Option", "SCHEMA", "DATASETS", "OPTIMIZERS", "SCHEDULES", "LAYERS", "load_config",
    "parse_override", "to_toml", "Data", "Task", "Preprocessor", "load_data", "read_source", "make_task",
    "build_model", "build_optimizer", "fit_config", "score_names", "sweep_settings", "reference",
]


def test_the_old_path_reexports_every_public_name():
    assert sorted(nablanet.config.__all__) == sorted(PUBLIC_NAMES) == sorted(nablanet.experiment.__all__)
    for name in PUBLIC_NAMES:
        assert getattr(nablanet.config, name) is getattr(nablanet.experiment, name), name


def test_config_datasets_lists_the_registry_as_name_to_kind_and_description():
    from nablanet.datasets import DATASETS, LoadedData, register_dataset

    listing = nablanet.config.DATASETS
    assert list(listing) == list(DATASETS)
    assert listing["xor"] == ("classification", "the XOR gate's four input pairs (the notes' first network)")
    register_dataset("constant", lambda settings: LoadedData(None, None, ""), kind="regression", description="zeros")
    try:
        assert listing["constant"] == ("regression", "zeros") and "constant" in listing
    finally:
        del DATASETS["constant"]
    assert "constant" not in listing
