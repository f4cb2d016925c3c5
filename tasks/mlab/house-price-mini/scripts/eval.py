"""Grader for house-price-mini: mean absolute error of SalePrice (lower is better).

Reads <submission_folder>/submission.csv (columns Id,SalePrice) and the hidden
answer.csv that lives beside this file. Does not import anything from the
agent's workspace.
"""
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def get_score(submission_folder="../env"):
    answer = pd.read_csv(os.path.join(HERE, "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    if "Id" not in sub.columns or "SalePrice" not in sub.columns:
        raise ValueError("submission.csv must have columns Id,SalePrice")
    sub = sub.drop_duplicates("Id").set_index("Id")
    missing = set(answer["Id"]) - set(sub.index)
    if missing:
        raise ValueError("submission.csv is missing %d test Ids" % len(missing))
    pred = sub.loc[answer["Id"], "SalePrice"].astype(float).to_numpy()
    if not np.all(np.isfinite(pred)):
        raise ValueError("non-finite predictions")
    return float(np.mean(np.abs(pred - answer["SalePrice"].to_numpy(dtype=float))))


if __name__ == "__main__":
    print(get_score())
