"""`nablanet predict`: a saved model's predictions on a data set as CSV, with class probabilities."""

from __future__ import annotations

import csv

import numpy as np

from nablanet.cli.runs import SavedRun
from nablanet.cli.tables import csv_number


def run(args) -> int:
    """Write the predictions of the model file ``args.model`` on ``args.data`` to the CSV file ``args.out``."""
    from nablanet.train import predict

    saved = SavedRun(args.model)
    X, y, description = saved.data(args.data, args.split, args.set, require_targets=False)
    outputs = predict(saved.model, saved.prepared(X))
    outputs = outputs.reshape(len(outputs), -1)
    task = saved.task if saved.task is not None or y is None else saved.task_for(y)
    # Class names (text targets in training) stand in for the class numbers in every column.
    names = np.asarray(saved.classes, dtype=object) if saved.classes else None
    header, columns = [], []
    if y is not None:
        targets = np.asarray(y).reshape(len(y), -1)
        header += ["target"] if targets.shape[1] == 1 else [f"target_{j}" for j in range(targets.shape[1])]
        columns.append(targets if names is None else names[targets])
    if task is not None and task.kind == "classification":
        probabilities, classes = class_probabilities(outputs, task)
        labels = range(probabilities.shape[1]) if names is None else names
        header += ["predicted_class"] + [f"probability_{label}" for label in labels]
        columns += [(classes if names is None else names[classes])[:, None], probabilities]
    else:
        header += ["prediction"] if outputs.shape[1] == 1 else [f"prediction_{j}" for j in range(outputs.shape[1])]
        columns.append(outputs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in zip(*(column.tolist() for column in columns)):
            writer.writerow([csv_number(value) for part in row for value in part])
    print(f"wrote {len(X)} predictions on {description} to {args.out}")
    return 0


def class_probabilities(outputs: np.ndarray, task) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and predicted classes from the network's outputs ``(N, outputs)``.

    Several outputs are logits z: a = softmax(z), the class the largest a_k. One output is a
    probability when the network ends in a sigmoid (binary_cross_entropy), otherwise a logit
    (binary_cross_entropy_with_logits) or a hinge margin, of which the sigmoid is taken; the class is
    1 where the probability exceeds 1/2. Both in float64, whatever the network's dtype.
    """
    from nablanet.nn.functional import get_activation, sigmoid, softmax

    values = outputs.astype(np.float64)
    if values.shape[1] == 1:
        # By function, not by name: "logistic" is the sigmoid too.
        ends_in_sigmoid = get_activation(task.output_activation) is sigmoid
        p = values[:, 0] if ends_in_sigmoid else sigmoid(values[:, 0])
        return np.column_stack([1.0 - p, p]), (p > 0.5).astype(np.int64)
    probabilities = softmax(values, axis=1)
    return probabilities, probabilities.argmax(axis=1)
