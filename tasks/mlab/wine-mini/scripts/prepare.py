"""Prepare the wine-mini task (deterministic, offline).

Uses scikit-learn's bundled wine recognition data (load_wine: 178 wines, 13 chemical
measurements, 3 cultivars). Run with cwd = scripts/. Writes ../env/train.csv (118 wines,
with the cultivar), ../env/test.csv (60 wines, Id + measurements), the hidden cultivars
into scripts/answer.csv and the marker scripts/prepared. The split is stratified.
"""
import csv
import os

import numpy as np
from sklearn.datasets import load_wine

SEED = 11
TEST_PER_CLASS = (20, 24, 16)

COLUMNS = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
           "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
           "color_intensity", "hue", "od280_od315", "proline"]


def fmt(v):
    return "%.4g" % v


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.path.join(here, "..", "env")
    wine = load_wine()
    X, y = wine.data, wine.target.astype(int)
    rng = np.random.RandomState(SEED)
    test = []
    for c, k in enumerate(TEST_PER_CLASS):
        idx = np.flatnonzero(y == c)
        test.extend(int(i) for i in rng.choice(idx, k, replace=False))
    test = [int(i) for i in rng.permutation(test)]
    test_set = set(test)
    train = [int(i) for i in rng.permutation(len(y)) if int(i) not in test_set]
    write_csv(os.path.join(env, "train.csv"), COLUMNS + ["cultivar"],
              [[fmt(v) for v in X[i]] + [int(y[i])] for i in train])
    write_csv(os.path.join(env, "test.csv"), ["Id"] + COLUMNS,
              [[k] + [fmt(v) for v in X[i]] for k, i in enumerate(test)])
    write_csv(os.path.join(here, "answer.csv"), ["Id", "cultivar"],
              [[k, int(y[i])] for k, i in enumerate(test)])
    with open(os.path.join(here, "prepared"), "w") as fh:
        fh.write("success")


if __name__ == "__main__":
    main()
