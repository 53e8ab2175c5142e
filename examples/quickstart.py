"""Quick start: tune a small model's hyperparameters with random search and grid search.

Run it with ``python examples/quickstart.py``. It trains a tiny logistic-regression model
(pure Python, no extra libraries) on a synthetic data set, tries 12 configurations on the
local executor, prints the live status table, and reports the best configuration.
"""

from __future__ import annotations

import math
import random
import tempfile

import tune


def make_data(n: int = 200, seed: int = 0) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        label = 1 if x1 + 0.5 * x2 + rng.gauss(0, 0.5) > 0 else 0
        data.append((x1, x2, label))
    return data


def train_logreg(config: dict) -> None:
    """Logistic regression trained by SGD; reports loss and accuracy every epoch."""
    data = make_data()
    w1 = w2 = b = 0.0
    lr, l2 = config["lr"], config["l2"]
    for _epoch in range(config["epochs"]):
        loss = correct = 0.0
        for x1, x2, y in data:
            z = w1 * x1 + w2 * x2 + b
            p = 1.0 / (1.0 + math.exp(-z))
            loss += -(y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12))
            correct += (p > 0.5) == bool(y)
            grad = p - y
            w1 -= lr * (grad * x1 + l2 * w1)
            w2 -= lr * (grad * x2 + l2 * w2)
            b -= lr * grad
        tune.report({"loss": loss / len(data), "accuracy": correct / len(data)})


def main() -> None:
    tuner = tune.Tuner(
        train_logreg,
        param_space={
            "lr": tune.loguniform(1e-4, 1e-1),
            "l2": tune.grid_search([0.0, 0.01, 0.1]),
            "epochs": 10,
        },
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=4),
        run_config=tune.RunConfig(
            name="quickstart", storage_path=tempfile.mkdtemp(prefix="tune-quickstart-")
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"\n{len(results)} trials, {results.num_errors} errors")
    print(f"Best config: {best.config}")
    print(f"Best loss: {best.metrics['loss']:.4f}, accuracy: {best.metrics['accuracy']:.3f}")
    print(f"Results are in {results.experiment_path}")


if __name__ == "__main__":
    main()
