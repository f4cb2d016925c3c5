"""Grader for digits-mini: accuracy of the argmax of the per-class probabilities.

Reads <submission_folder>/submission.csv (first column Id, then one column per class
0..9) and the hidden answer.csv beside this file. Higher is better.
"""
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = [str(c) for c in range(10)]


def get_score(submission_folder="../env"):
    answer = pd.read_csv(os.path.join(HERE, "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"), index_col=0)
    sub.columns = [str(c) for c in sub.columns]
    if any(c not in sub.columns for c in CLASSES):
        raise ValueError("submission.csv must have one column per class 0..9")
    sub = sub[~sub.index.duplicated()]
    missing = set(answer["Id"]) - set(sub.index)
    if missing:
        raise ValueError("submission.csv is missing %d test Ids" % len(missing))
    probs = sub.loc[answer["Id"], CLASSES].astype(float).to_numpy()
    pred = np.argmax(probs, axis=1)
    return float(np.mean(pred == answer["label"].to_numpy()))


if __name__ == "__main__":
    print(get_score())
