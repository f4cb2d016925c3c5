"""Prepare the digits-mini task (deterministic, offline).

Uses scikit-learn's bundled 8x8 handwritten digits (load_digits, 1797 images).
Run with cwd = scripts/. Writes ../env/data/train.csv (label + 64 pixels) and
../env/data/test.csv (Id + 64 pixels, no label), the hidden labels into
scripts/answer.csv, and the marker scripts/prepared.
"""
import csv
import os

import numpy as np
from sklearn.datasets import load_digits

SEED = 7
N_TEST = 540


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = os.path.join(here, "..", "env", "data")
    os.makedirs(data_dir, exist_ok=True)
    digits = load_digits()
    X = digits.data.astype(int)
    y = digits.target.astype(int)
    order = np.random.RandomState(SEED).permutation(len(y))
    test, train = order[:N_TEST], np.sort(order[N_TEST:])
    pix = ["p%d" % i for i in range(64)]
    write_csv(os.path.join(data_dir, "train.csv"), ["label"] + pix,
              [[int(y[i])] + [int(v) for v in X[i]] for i in train])
    write_csv(os.path.join(data_dir, "test.csv"), ["Id"] + pix,
              [[k] + [int(v) for v in X[i]] for k, i in enumerate(test)])
    write_csv(os.path.join(here, "answer.csv"), ["Id", "label"],
              [[k, int(y[i])] for k, i in enumerate(test)])
    with open(os.path.join(here, "prepared"), "w") as fh:
        fh.write("success")


if __name__ == "__main__":
    main()
