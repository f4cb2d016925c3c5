import os

import pandas as pd
from sklearn.metrics import roc_auc_score

PRED = "pred_results/toxcls_test_pred.csv"
GOLD = "benchmark/eval_programs/gold_results/toxcls_gold.csv"
THRESHOLD = 0.80


def eval():
    if not os.path.exists(PRED):
        return 0, "missing %s" % PRED
    pred = pd.read_csv(PRED)
    gold = pd.read_csv(GOLD)
    if "mol_id" not in pred.columns or "TOXIC" not in pred.columns:
        return 0, "prediction must have the columns mol_id and TOXIC"
    data_correctness = list(pred["mol_id"]) == list(gold["mol_id"])
    if not data_correctness:
        return 0, "mol_id column differs from the test set (order or content)"
    auc = roc_auc_score(gold["TOXIC"], pred["TOXIC"].astype(float))
    func_correctness = auc >= THRESHOLD
    return int(data_correctness and func_correctness), \
        "ROC-AUC %.4f (threshold %.2f)" % (auc, THRESHOLD)


if __name__ == "__main__":
    print(eval())
