import os

PRED = "pred_results/stroop_clean_trials.txt"
GOLD = "benchmark/eval_programs/gold_results/stroop_clean_trials_gold.txt"


def read_set(path):
    with open(path) as fh:
        return set(line.strip() for line in fh if line.strip())


def eval():
    if not os.path.exists(PRED):
        return 0, "missing %s" % PRED
    pred = read_set(PRED)
    gold = read_set(GOLD)
    if pred == gold:
        return 1, "all %d trials match" % len(gold)
    return 0, "%d trials expected, %d given: %d missing, %d not expected" % (
        len(gold), len(pred), len(gold - pred), len(pred - gold))


if __name__ == "__main__":
    print(eval())
