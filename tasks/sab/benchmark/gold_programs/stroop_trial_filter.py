import os

import pandas as pd


def main():
    trials = pd.read_csv("benchmark/datasets/stroop/trials.csv")
    participants = pd.read_csv("benchmark/datasets/stroop/participants.csv",
                               keep_default_na=False)
    included = set(participants.loc[participants["exclusion_reason"].str.strip() == "",
                                    "participant"])
    kept = trials[trials["participant"].isin(included)
                  & (trials["correct"] == 1)
                  & trials["rt_ms"].between(200, 2000, inclusive="both")]

    os.makedirs("pred_results", exist_ok=True)
    with open("pred_results/stroop_clean_trials.txt", "w") as fh:
        for trial_id in kept["trial_id"]:
            fh.write(trial_id + "\n")


if __name__ == "__main__":
    main()
