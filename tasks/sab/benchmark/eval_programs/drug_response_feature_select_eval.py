import os

import pandas as pd

PRED = "pred_results/drug_response_selected_features.csv"
GOLD = "benchmark/eval_programs/gold_results/drug_response_gold_features.csv"
MIN_MATCH = 7


def eval():
    if not os.path.exists(PRED):
        return 0, "missing %s" % PRED
    pred = pd.read_csv(PRED).round(4)
    gold = pd.read_csv(GOLD).round(4)
    if len(pred.columns) > len(gold.columns):
        return 0, "%d columns saved, expected %d" % (len(pred.columns), len(gold.columns))
    matched = []
    for col in gold.columns:
        if col in pred.columns and len(pred) == len(gold) and \
                pred[col].astype(float).tolist() == gold[col].astype(float).tolist():
            matched.append(col)
    ok = len(matched) >= MIN_MATCH
    return int(ok), "%d of %d gold features matched (need %d): %s" % (
        len(matched), len(gold.columns), MIN_MATCH, ", ".join(matched))


if __name__ == "__main__":
    print(eval())
