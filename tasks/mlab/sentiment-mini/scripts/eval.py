"""Grader for sentiment-mini: accuracy of the argmax of the two class probabilities.

Reads <submission_folder>/submission.csv (index column idx, then columns 0 and 1 with
the probabilities of negative and positive) and the hidden answer.csv beside this file.
Higher is better.
"""
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def get_score(submission_folder="../env"):
    answer = pd.read_csv(os.path.join(HERE, "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"), index_col=0)
    sub.columns = [str(c) for c in sub.columns]
    if "0" not in sub.columns or "1" not in sub.columns:
        raise ValueError("submission.csv must have the columns 0 and 1")
    sub = sub[~sub.index.duplicated()]
    missing = set(answer["idx"]) - set(sub.index)
    if missing:
        raise ValueError("submission.csv is missing %d test rows" % len(missing))
    probs = sub.loc[answer["idx"], ["0", "1"]].astype(float).to_numpy()
    return float(np.mean(np.argmax(probs, axis=1) == answer["label"].to_numpy()))


if __name__ == "__main__":
    print(get_score())
