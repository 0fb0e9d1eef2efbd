"""nablanet.diagnostics.bias_variance_report: the gaps, the largest and its remedy, the text, the picture, bad input."""

import math

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.diagnostics import BiasVarianceReport, Finding, bias_variance_report
from nablanet.diagnostics.bias_variance import REMEDIES

# --- one finding per gap, from constructed errors ----------------------------------------------------

# (optimal, train, train-dev, dev, test) and the gap that must come out largest.
CASES = {
    "avoidable bias": (0.01, 0.15, 0.16, 0.17, 0.17),
    "variance": (0.01, 0.02, 0.12, 0.13, 0.13),
    "data mismatch": (0.01, 0.02, 0.03, 0.25, 0.26),
    "overfitting to dev": (0.01, 0.02, 0.03, 0.04, 0.12),
}


@pytest.mark.parametrize("gap", list(CASES))
def test_the_largest_gap_comes_first_with_the_notes_remedies(gap):
    optimal, train, train_dev, dev, test = CASES[gap]
    report = bias_variance_report(optimal=optimal, train=train, train_dev=train_dev, dev=dev, test=test)
    sizes = {"avoidable bias": train - optimal, "variance": train_dev - train, "data mismatch": dev - train_dev,
             "overfitting to dev": test - dev}
    assert report.avoidable_bias == pytest.approx(sizes["avoidable bias"])
    assert report.variance == pytest.approx(sizes["variance"])
    assert report.data_mismatch == pytest.approx(sizes["data mismatch"])
    assert report.dev_overfitting == pytest.approx(sizes["overfitting to dev"])
    assert report.largest == gap
    first = report.findings[0]
    assert isinstance(first, Finding) and first.largest and first.gap == gap
    assert first.size == pytest.approx(sizes[gap]) and first.remedies == REMEDIES[gap]
    assert str(first).startswith(f"{gap} is the largest gap ({sizes[gap]:.3f} = ")
    # The other gaps of these cases are at most the tolerance: no other finding.
    assert len(report.findings) == 1
    assert all(remedy in report.report() for remedy in REMEDIES[gap])
    assert report.notes == ()


def test_each_remedy_says_what_the_notes_say():
    assert "hidden layers" in REMEDIES["avoidable bias"][0]
    assert any("dropout" in remedy for remedy in REMEDIES["variance"])
    assert "more like the target" in REMEDIES["data mismatch"][0]
    assert "bigger dev set" in REMEDIES["overfitting to dev"][0]


def test_other_gaps_above_the_tolerance_follow_in_order_of_size():
    report = bias_variance_report(optimal=0.0, train=0.05, train_dev=0.20, dev=0.30, test=0.31)
    assert [(f.gap, f.largest) for f in report.findings] == [
        ("variance", True), ("data mismatch", False), ("avoidable bias", False)]
    assert report.findings[1].message == "data mismatch is also above the tolerance (0.100 = dev 0.300 - train-dev 0.200)"


def test_a_gap_equal_to_the_tolerance_is_within_it_and_none_above_says_so():
    # 0.16 - 0.15 rounds to 0.010000000000000009 in floating point: still within a tolerance of 0.01.
    report = bias_variance_report(optimal=0.14, train=0.15, train_dev=0.15, dev=0.15, test=0.16)
    assert report.largest is None
    (finding,) = report.findings
    assert finding.gap is None and not finding.largest and finding.remedies == ()
    assert str(finding).startswith("no gap exceeds the tolerance 0.01")
    looser = bias_variance_report(optimal=0.01, train=0.05, dev=0.06, tolerance=0.05)
    assert looser.largest is None
    assert bias_variance_report(optimal=0.01, train=0.05, dev=0.06, tolerance=0.0).largest == "avoidable bias"


def test_without_train_dev_variance_is_dev_minus_train_and_a_note_says_mismatch_is_not_separated():
    report = bias_variance_report(optimal=0.0, train=0.02, dev=0.20)
    assert report.train_dev is None and report.data_mismatch is None and report.dev_overfitting is None
    assert report.variance == pytest.approx(0.18)
    assert {gap: (start, end) for gap, (start, end, _) in report.gaps.items()} == {
        "avoidable bias": ("optimal", "train"), "variance": ("train", "dev")}
    assert report.largest == "variance"
    assert any(note.startswith("no train-dev set: variance and data mismatch are not separated") for note in report.notes)
    assert any(note.startswith("no test error") for note in report.notes)


def test_an_optimal_error_not_given_is_taken_as_zero_and_said_to_be():
    report = bias_variance_report(train=0.1, train_dev=0.1, dev=0.1, test=0.1)
    assert report.optimal == 0.0 and not report.optimal_given and report.largest == "avoidable bias"
    assert report.notes[0].startswith("the optimal error was not given and is taken as 0")
    assert "optimal (assumed)" in report.report()
    given = bias_variance_report(optimal=0.1, train=0.1, train_dev=0.1, dev=0.1, test=0.1)
    assert given.optimal_given and given.notes == () and "optimal (given)" in given.report()


def test_a_negative_gap_is_noted_not_acted_on():
    report = bias_variance_report(optimal=0.0, train=0.0, train_dev=0.10, dev=0.04, test=0.04)
    assert report.data_mismatch == pytest.approx(-0.06) and report.largest == "variance"
    assert report.notes == ("data mismatch is negative (-0.060): the dev set is easier than the train-dev set "
                            "(sampling noise on small sets, or sets from different distributions)",)


def test_the_report_reads_as_tables_findings_and_notes():
    report = bias_variance_report(optimal=0.01, train=0.02, train_dev=0.03, dev=0.15)
    text = report.report()
    assert str(report) == text
    lines = text.splitlines()
    assert lines[0] == "bias/variance report (train / train-dev / dev / test)"
    errors = text.split("\n\n")[1].splitlines()
    assert errors == ["set              error", "---------------  -----", "optimal (given)  0.010",
                      "train            0.020", "train-dev        0.030", "dev              0.150"]
    assert [line for line in lines if "<- largest" in line] == [
        "data mismatch   train-dev -> dev    +0.120  <- largest"]
    assert "findings:" in lines
    assert "  1. data mismatch is the largest gap (0.120 = dev 0.150 - train-dev 0.030); what to do:" in lines
    assert lines[-1] == "  - no test error: overfitting to the dev set is not measured"


# --- the picture ---------------------------------------------------------------------------------------

def test_plot_draws_a_bar_per_set_and_an_arrow_per_gap_the_largest_in_red():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    report = bias_variance_report(optimal=0.01, train=0.02, train_dev=0.03, dev=0.25, test=0.26)
    figure = report.plot()
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["optimal", "train", "train-dev", "dev", "test"]
    assert [round(bar.get_height(), 6) for bar in ax.patches if bar.get_width() == pytest.approx(0.55)] == [
        0.01, 0.02, 0.03, 0.25, 0.26]
    arrows = [child for child in ax.texts if getattr(child, "arrow_patch", None) is not None]
    assert len(arrows) == 4
    from matplotlib.colors import to_rgba

    red = [arrow for arrow in arrows if arrow.arrow_patch.get_edgecolor() == pytest.approx(to_rgba("C3"))]
    assert len(red) == 1 and red[0].xy == (2.5, 0.25)  # the mismatch arrow, between train-dev and dev
    assert ax.get_title() == "largest gap: data mismatch (0.220)"
    gap_labels = ax.get_xticklabels(minor=True)
    assert [label.get_text() for label in gap_labels] == [
        "avoidable bias\n+0.010", "variance\n+0.010", "data mismatch\n+0.220", "overfitting to dev\n+0.010"]
    assert [label.get_fontweight() for label in gap_labels] == ["normal", "normal", "bold", "normal"]

    existing = Figure()
    target = existing.add_subplot()
    assert bias_variance_report(train=0.1, dev=0.1).plot(ax=target) is existing
    assert [tick.get_text() for tick in target.get_xticklabels()] == ["optimal\n(assumed)", "train", "dev"]


# --- bad input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, error", [(1.2, ValueError), (-0.1, ValueError), (math.nan, ValueError),
                                          (True, TypeError), ("0.1", TypeError)])
def test_an_error_outside_zero_one_or_not_a_number_is_refused_by_name(value, error):
    with pytest.raises(error, match=r"bias_variance_report: dev error must be a number in \[0, 1\], got "):
        bias_variance_report(train=0.1, dev=value)
    with pytest.raises(error, match=r"bias_variance_report: optimal error must be a number in \[0, 1\]"):
        bias_variance_report(train=0.1, dev=0.2, optimal=value)


@pytest.mark.parametrize("missing", ["train", "dev"])
def test_train_and_dev_are_required(missing):
    errors = {"train": 0.1, "dev": 0.2, missing: None}
    with pytest.raises(ValueError, match=rf"bias_variance_report: the {missing} set is required"):
        bias_variance_report(**errors)
    with pytest.raises(TypeError):
        bias_variance_report(train=0.1)  # keyword-only, and dev has no default


def test_sets_in_the_wrong_form_for_the_mode_and_bad_options_are_refused():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    model = nn.Sequential(nn.Dense(2, 2, rng=0))
    with pytest.raises(TypeError, match=r"train is an \(X, y\) pair; pass model="):
        bias_variance_report(train=(X, y), dev=0.1)
    with pytest.raises(TypeError, match=r"with a model, each set is an \(X, y\) pair; got float for dev"):
        bias_variance_report(train=(X, y), dev=0.1, model=model)
    with pytest.raises(ValueError, match=r"the dev set needs as many targets as samples, at least one; got 0"):
        bias_variance_report(train=(X, y), dev=(X[:0], y[:0]), model=model)
    with pytest.raises(ValueError, match=r"metric must be 'error' or a function"):
        bias_variance_report(train=(X, y), dev=(X, y), model=model, metric="accuracy")
    with pytest.raises(ValueError, match=r"train error \(from metric\) must be a number in \[0, 1\], got 3.0"):
        bias_variance_report(train=(X, y), dev=(X, y), model=model, metric=lambda predictions, targets: 3.0)
    with pytest.raises(TypeError, match=r"model must be a nablanet Module or have a predict method, got object"):
        bias_variance_report(train=(X, y), dev=(X, y), model=object())
    with pytest.raises(ValueError, match=r"tolerance must be a number in \[0, 1\]"):
        bias_variance_report(train=0.1, dev=0.1, tolerance=2)


def test_the_report_is_a_frozen_record():
    report = bias_variance_report(train=0.1, dev=0.2)
    assert isinstance(report, BiasVarianceReport)
    with pytest.raises(AttributeError):
        report.train = 0.0


# --- end to end: a real model, two distributions --------------------------------------------------------

def _two_scanners():
    """The 8x8 digits as scanned (training distribution) and shifted a pixel right with noise (the target)."""
    from nablanet.datasets import load_digits

    X, y = load_digits(dtype="float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    X, y = X[order] / 16.0, y[order]
    shifted = np.roll(X[800:].reshape(-1, 8, 8), 1, axis=2)
    shifted[:, :, 0] = 0.0
    target = np.clip(shifted + rng.normal(0.0, 0.15, shifted.shape), 0.0, 1.0).reshape(-1, 64).astype(np.float32)
    return {"train": (X[:600], y[:600]), "train_dev": (X[600:800], y[600:800]),
            "dev": (target[:300], y[800:1100]), "test": (target[300:600], y[1100:1400])}


def test_a_model_trained_on_one_distribution_shows_the_mismatch_end_to_end():
    from nablanet import evaluate, fit, optim

    sets = _two_scanners()
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(64, 32, activation="relu", rng=rng), nn.Dense(32, 10, rng=rng))
    fit(model, *sets["train"], loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=3e-3), epochs=15,
        batch_size=32, seed=0, progress=False)
    report = bias_variance_report(model=model, optimal=0.0, **sets)
    for name, attribute in (("train", "train"), ("train_dev", "train_dev"), ("dev", "dev"), ("test", "test")):
        accuracy = evaluate(model, *sets[name], loss="cross_entropy", metrics=["accuracy"])["accuracy"]
        assert getattr(report, attribute) == pytest.approx(1.0 - accuracy, abs=1e-12)
    assert report.sizes == {"train": 600, "train-dev": 200, "dev": 300, "test": 300}
    # The network fits its own distribution and fails on the shifted one (measured: train 0.028, train-dev
    # 0.060, dev 0.557, test 0.540): the mismatch is the largest gap, and dev and test, from one distribution,
    # agree.
    assert report.train < 0.05 and report.variance < 0.08
    assert report.largest == "data mismatch" and report.data_mismatch > 0.2
    assert abs(report.dev_overfitting) < 0.08
    assert "samples" in report.report().splitlines()[2]

    # A function of (predictions, targets) gives the same errors.
    def error(predictions, targets):
        return float(np.mean(np.argmax(predictions, axis=1) != targets))

    assert bias_variance_report(model=model, metric=error, **sets).dev == pytest.approx(report.dev, abs=1e-12)


def test_an_estimator_with_predict_is_scored_by_its_labels():
    from nablanet import MLPClassifier

    sets = _two_scanners()
    estimator = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(*sets["train"])
    report = bias_variance_report(model=estimator, train=sets["train"], dev=sets["dev"])
    assert report.train == pytest.approx(1.0 - estimator.score(*sets["train"]))
    assert report.dev == pytest.approx(1.0 - estimator.score(*sets["dev"]))
