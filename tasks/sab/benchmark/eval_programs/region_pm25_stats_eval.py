import os

import numpy as np
import pandas as pd

PRED = "pred_results/region_pm25_stats.csv"
GOLD = "benchmark/eval_programs/gold_results/region_pm25_stats_gold.csv"
COLUMNS = ["region", "mean_pm25", "std_pm25", "n_readings"]


def eval():
    if not os.path.exists(PRED):
        return 0, "missing %s" % PRED
    pred = pd.read_csv(PRED)
    gold = pd.read_csv(GOLD)
    if list(pred.columns) != COLUMNS:
        return 0, "columns %s, expected %s" % (list(pred.columns), COLUMNS)
    if list(pred["region"].astype(str)) != list(gold["region"]):
        return 0, "regions %s, expected %s (sorted by name)" % (
            list(pred["region"]), list(gold["region"]))
    log = []
    ok = True
    for col in ("mean_pm25", "std_pm25", "n_readings"):
        close = np.isclose(pred[col].astype(float), gold[col].astype(float),
                           rtol=1e-6, atol=1e-6)
        if not close.all():
            ok = False
            log.append("%s differs for %s" % (col, list(gold["region"][~close])))
    return int(ok), "; ".join(log) if log else "all statistics match"


if __name__ == "__main__":
    print(eval())
