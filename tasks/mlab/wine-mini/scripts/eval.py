"""Grader for wine-mini: accuracy of the predicted cultivar (higher is better).

Reads <submission_folder>/submission.csv (columns Id,cultivar) and the hidden
answer.csv beside this file.
"""
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def get_score(submission_folder="../env"):
    answer = pd.read_csv(os.path.join(HERE, "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    if "Id" not in sub.columns or "cultivar" not in sub.columns:
        raise ValueError("submission.csv must have columns Id,cultivar")
    sub = sub.drop_duplicates("Id").set_index("Id")
    missing = set(answer["Id"]) - set(sub.index)
    if missing:
        raise ValueError("submission.csv is missing %d test Ids" % len(missing))
    pred = sub.loc[answer["Id"], "cultivar"].to_numpy()
    return float(np.mean(pred.astype(int) == answer["cultivar"].to_numpy()))


if __name__ == "__main__":
    print(get_score())
