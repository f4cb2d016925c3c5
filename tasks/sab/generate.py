"""Generate the bundled ScienceAgentBench-format tasks (deterministic, offline).

Writes, relative to this file:
  benchmark/datasets/<folder>/...            the agent-visible inputs
  benchmark/eval_programs/gold_results/...   the hidden expected results
  tasks.jsonl                                one row per task, the twelve upstream fields
The gold programs (benchmark/gold_programs/) and eval scripts (benchmark/eval_programs/) are
hand-written files, not generated. Gold results are computed here directly from the planted
ground truth, independently of the gold programs. Standard library + numpy only; running it
twice gives byte-identical files.
    python3 generate.py
"""
import csv
import json
import math
import os
import statistics

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = os.path.join(HERE, "benchmark", "datasets")
GOLD = os.path.join(HERE, "benchmark", "eval_programs", "gold_results")


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))


def f4(v):
    return "%.4f" % v


# --------------------------------------------------------------------------- 1 toxcls
def gen_toxcls():
    rng = np.random.RandomState(101)
    n = 900
    molwt = rng.normal(380, 95, n).clip(120, 800)
    logp = rng.normal(2.6, 1.5, n).clip(-3, 8)
    tpsa = rng.gamma(4.0, 20.0, n).clip(5, 250)
    hbd = rng.poisson(1.6, n).clip(0, 8)
    hba = (rng.poisson(4.0, n) + (tpsa > 90)).clip(0, 14)
    rotb = rng.poisson(5.0, n).clip(0, 18)
    arom = rng.poisson(1.8, n).clip(0, 6)
    heavy = np.round(molwt / 13.5 + rng.normal(0, 2, n)).clip(8, 60)
    fsp3 = rng.beta(2.0, 3.0, n)
    charge = rng.choice([-1, 0, 0, 0, 0, 1, 1], n)
    logit = (0.9 * (logp - 2.6) + 0.55 * (arom - 1.8) - 0.012 * (tpsa - 80)
             + 0.8 * (charge == 1) - 1.6 * (fsp3 - 0.4) + 0.35 * np.maximum(logp - 4, 0) ** 2
             - 1.2)
    y = (rng.rand(n) < 1 / (1 + np.exp(-logit))).astype(int)
    ids = ["MOL%05d" % (10000 + 7 * i) for i in range(n)]
    cols = ["mol_id", "MolWt", "LogP", "TPSA", "NumHDonors", "NumHAcceptors",
            "NumRotatableBonds", "NumAromaticRings", "HeavyAtomCount", "FractionCSP3",
            "FormalCharge"]
    rows = [[ids[i], "%.2f" % molwt[i], "%.3f" % logp[i], "%.2f" % tpsa[i], int(hbd[i]),
             int(hba[i]), int(rotb[i]), int(arom[i]), int(heavy[i]), "%.3f" % fsp3[i],
             int(charge[i])] for i in range(n)]
    order = rng.permutation(n)
    test, train = order[:300], order[300:]
    write_csv(os.path.join(DATASETS, "toxcls", "toxcls_train.csv"), cols + ["TOXIC"],
              [rows[i] + [int(y[i])] for i in train])
    write_csv(os.path.join(DATASETS, "toxcls", "toxcls_test.csv"), cols, [rows[i] for i in test])
    write_csv(os.path.join(GOLD, "toxcls_gold.csv"), ["mol_id", "TOXIC"],
              [[ids[i], int(y[i])] for i in test])


# --------------------------------------------------------------------------- 2 featsel
GENES = ["ABCB1", "AKT1", "ALK", "APC", "ATM", "BAX", "BCL2", "BRAF", "BRCA1", "BRCA2",
         "CCND1", "CDH1", "CDK4", "CDKN2A", "CTNNB1", "EGFR", "ERBB2", "ESR1", "EZH2", "FGFR1",
         "FLT3", "GATA3", "HRAS", "IDH1", "JAK2", "KDR", "KIT", "KRAS", "MDM2", "MET",
         "MTOR", "MYC", "NOTCH1", "NRAS", "PIK3CA", "PTEN", "RB1", "SMAD4", "SOX2", "TP53",
         "TOP2A", "TYMS", "VEGFA", "XRCC1", "ERCC1", "MLH1", "MSH2", "NQO1", "GSTP1", "SLC7A11"]
INFORMATIVE = ["ABCB1", "TOP2A", "ERCC1", "BCL2", "TP53", "GSTP1", "MYC", "NQO1", "TYMS", "BAX"]
WEIGHTS = [1.6, -1.5, 1.4, 1.3, -1.25, 1.2, 1.15, -1.1, 1.05, -1.0]


def gen_featsel():
    rng = np.random.RandomState(202)
    n = 300
    X = rng.normal(0.0, 1.0, (n, len(GENES)))
    # a shared "proliferation" factor makes some uninformative genes correlated with each other
    prolif = rng.normal(0, 1, n)
    for g in ("CCND1", "CDK4", "EZH2"):
        X[:, GENES.index(g)] += 0.8 * prolif
    X = np.round(X * 1.2 + 7.5, 4)  # log2 expression around 7.5
    z = (X - 7.5) / 1.2
    resp = sum(w * z[:, GENES.index(g)] for g, w in zip(INFORMATIVE, WEIGHTS))
    resp = resp + rng.normal(0, 1.0, n)
    ic50 = np.round(resp * 0.5 + 1.0, 4)
    samples = ["CL-%03d" % (i + 1) for i in range(n)]
    write_csv(os.path.join(DATASETS, "drug_response", "expression.csv"), ["cell_line"] + GENES,
              [[samples[i]] + [f4(v) for v in X[i]] for i in range(n)])
    write_csv(os.path.join(DATASETS, "drug_response", "response.csv"), ["cell_line", "log_ic50"],
              [[samples[i], f4(ic50[i])] for i in range(n)])
    write_csv(os.path.join(GOLD, "drug_response_gold_features.csv"), INFORMATIVE,
              [[f4(X[i, GENES.index(g)]) for g in INFORMATIVE] for i in range(n)])


# --------------------------------------------------------------------------- 3 groupstats
REGIONS = {"Coastal": 9.0, "Industrial": 24.0, "Rural": 6.5, "Suburban": 12.0, "Urban": 18.0}


def gen_groupstats():
    rng = np.random.RandomState(303)
    names = sorted(REGIONS)
    stations = []
    for k in range(18):
        region = names[k] if k < len(names) else names[rng.randint(len(names))]
        stations.append(("ST%02d" % (k + 1), region, "%.4f" % (45.0 + rng.rand()),
                         "%.4f" % (7.0 + rng.rand())))
    write_csv(os.path.join(DATASETS, "air_quality", "stations.csv"),
              ["station_id", "region", "lat", "lon"], stations)
    readings = []
    values = {r: [] for r in REGIONS}
    for day in range(90):
        date = "2023-%02d-%02d" % (1 + day // 30, 1 + day % 30)
        season = 1.0 + 0.3 * math.cos(2 * math.pi * day / 90)
        for sid, region, _, _ in stations:
            v = REGIONS[region] * season * math.exp(rng.normal(0, 0.35))
            if rng.rand() < 0.07:
                readings.append([sid, date, ""])
            else:
                s = "%.1f" % v
                readings.append([sid, date, s])
                values[region].append(float(s))
    write_csv(os.path.join(DATASETS, "air_quality", "pm25_daily.csv"),
              ["station_id", "date", "pm25"], readings)
    rows = []
    for region in sorted(values):
        vals = values[region]
        rows.append([region, "%.10f" % statistics.fmean(vals), "%.10f" % statistics.stdev(vals),
                     len(vals)])
    write_csv(os.path.join(GOLD, "region_pm25_stats_gold.csv"),
              ["region", "mean_pm25", "std_pm25", "n_readings"], rows)


# --------------------------------------------------------------------------- 4 rulefilter
def gen_rulefilter():
    rng = np.random.RandomState(404)
    parts = []
    for p in range(24):
        reason = ""
        if p in (4, 13):
            reason = "did not complete practice block"
        elif p == 19:
            reason = "colour vision deficiency"
        parts.append(("P%02d" % (p + 1), int(rng.randint(18, 41)), reason))
    write_csv(os.path.join(DATASETS, "stroop", "participants.csv"),
              ["participant", "age", "exclusion_reason"], parts)
    trials, keep = [], []
    for pid, _, reason in parts:
        base = rng.normal(620, 80)
        careless = pid in ("P08", "P17")
        for t in range(60):
            cond = "incongruent" if rng.rand() < 0.5 else "congruent"
            rt = base + (85 if cond == "incongruent" else 0) + rng.gamma(2.0, 60.0)
            r = rng.rand()
            if r < (0.10 if careless else 0.025):
                rt = rng.uniform(60, 199)          # anticipations
            elif r < (0.14 if careless else 0.045):
                rt = rng.uniform(2001, 4200)       # lapses
            elif r < 0.06:
                rt = [200.0, 2000.0][rng.randint(2)]   # exact boundary values are kept
            correct = int(rng.rand() > (0.13 if cond == "incongruent" else 0.05))
            tid = "%s-T%03d" % (pid, t + 1)
            rt_ms = int(round(rt))
            trials.append([tid, pid, t + 1, cond, rt_ms, correct])
            if not reason and correct == 1 and 200 <= rt_ms <= 2000:
                keep.append(tid)
    write_csv(os.path.join(DATASETS, "stroop", "trials.csv"),
              ["trial_id", "participant", "trial", "condition", "rt_ms", "correct"], trials)
    write_lines(os.path.join(GOLD, "stroop_clean_trials_gold.txt"), keep)


# --------------------------------------------------------------------------- rows
def folder_tree(folder):
    files = sorted(os.listdir(os.path.join(DATASETS, folder)))
    return "\n".join(["|-- %s/" % folder] + ["|---- %s" % f for f in files])


def preview(folder, n_rows=3):
    parts = []
    for f in sorted(os.listdir(os.path.join(DATASETS, folder))):
        rel = "%s/%s" % (folder, f)
        with open(os.path.join(DATASETS, folder, f)) as fh:
            lines = fh.read().splitlines()[: n_rows + 1]
        if len(lines[0].split(",")) > 12:
            # wide table: show its first columns only
            lines = [",".join(line.split(",")[:12]) + ",..." for line in lines]
        parts.append("[START Preview of %s]\n%s\n...\n[END Preview of %s]"
                     % (rel, "\n".join(lines), rel))
    return "\n".join(parts)


def rows():
    common = dict(github_name="dynabox/bundled-tasks")
    return [
        dict(
            instance_id="1",
            domain="Computational Chemistry",
            subtask_categories="Feature Engineering, Machine Learning",
            github_name=common["github_name"],
            task_inst=("Train a classifier on the molecular descriptors in toxcls_train.csv to "
                       "predict whether a compound is toxic (column TOXIC). Predict the probability "
                       "of toxicity for every compound of toxcls_test.csv, keeping the order of the "
                       "test file. Save the predictions, with the columns mol_id and TOXIC (the "
                       "probability of the positive label), to \"pred_results/toxcls_test_pred.csv\"."),
            domain_knowledge=("Lipophilicity (LogP) and the number of aromatic rings raise the risk "
                              "of toxicity, while a high fraction of sp3 carbons (FractionCSP3) and a "
                              "large polar surface area (TPSA) lower it; cations (FormalCharge 1) are "
                              "more often toxic. A scaled logistic regression or a tree ensemble over "
                              "all descriptors works well; evaluation is ROC-AUC on the test set."),
            dataset_folder_tree=folder_tree("toxcls"),
            dataset_preview=preview("toxcls"),
            src_file_or_path="tasks/sab/generate.py (synthetic descriptors)",
            gold_program_name="toxcls_model.py",
            output_fname="pred_results/toxcls_test_pred.csv",
            eval_script_name="toxcls_eval.py",
        ),
        dict(
            instance_id="2",
            domain="Bioinformatics",
            subtask_categories="Feature Selection, Statistical Analysis",
            github_name=common["github_name"],
            task_inst=("Using the gene expression profiles in expression.csv and the drug response "
                       "(log_ic50) in response.csv, which share the cell_line column, select the 10 "
                       "genes whose expression best predicts log_ic50. Save the expression values of "
                       "the 10 selected genes for all cell lines, one column per gene named as in "
                       "expression.csv and rows in the order of expression.csv, to "
                       "\"pred_results/drug_response_selected_features.csv\"."),
            domain_knowledge=("Univariate screening (Pearson correlation or the F-test of "
                              "sklearn.feature_selection.f_regression) or an L1-penalised linear "
                              "model both recover the genes with a real effect; the sign of the "
                              "effect does not matter for the selection. Keep the values exactly as "
                              "read: do not standardise the saved columns."),
            dataset_folder_tree=folder_tree("drug_response"),
            dataset_preview=preview("drug_response"),
            src_file_or_path="tasks/sab/generate.py (synthetic expression panel)",
            gold_program_name="drug_response_feature_select.py",
            output_fname="pred_results/drug_response_selected_features.csv",
            eval_script_name="drug_response_feature_select_eval.py",
        ),
        dict(
            instance_id="3",
            domain="Geographical Information Science",
            subtask_categories="Data Integration, Statistical Analysis",
            github_name=common["github_name"],
            task_inst=("Join the daily PM2.5 readings in pm25_daily.csv to the monitoring stations "
                       "in stations.csv by station_id, and compute for every region the mean and the "
                       "sample standard deviation (ddof=1) of the daily PM2.5 readings and the "
                       "number of readings used, ignoring missing readings. Save a table with the "
                       "columns region, mean_pm25, std_pm25, n_readings, one row per region sorted "
                       "by region name, to \"pred_results/region_pm25_stats.csv\"."),
            domain_knowledge=("Missing readings are empty cells in the pm25 column and must be left "
                              "out, not counted as zero. Every reading counts once: do not average "
                              "per station first."),
            dataset_folder_tree=folder_tree("air_quality"),
            dataset_preview=preview("air_quality"),
            src_file_or_path="tasks/sab/generate.py (synthetic monitoring network)",
            gold_program_name="region_pm25_stats.py",
            output_fname="pred_results/region_pm25_stats.csv",
            eval_script_name="region_pm25_stats_eval.py",
        ),
        dict(
            instance_id="4",
            domain="Psychology and Cognitive science",
            subtask_categories="Data Selection",
            github_name=common["github_name"],
            task_inst=("Clean the Stroop task data before analysis. From trials.csv keep only the "
                       "trials that (1) belong to a participant whose exclusion_reason in "
                       "participants.csv is empty, (2) were answered correctly (correct == 1) and "
                       "(3) have a reaction time rt_ms between 200 and 2000 ms inclusive. Save the "
                       "trial_id of every kept trial, one per line, to "
                       "\"pred_results/stroop_clean_trials.txt\"."),
            domain_knowledge=("Reaction times below 200 ms are anticipations and above 2000 ms are "
                              "lapses of attention; both bounds are inclusive here, so trials of "
                              "exactly 200 or 2000 ms are kept."),
            dataset_folder_tree=folder_tree("stroop"),
            dataset_preview=preview("stroop"),
            src_file_or_path="tasks/sab/generate.py (synthetic Stroop experiment)",
            gold_program_name="stroop_trial_filter.py",
            output_fname="pred_results/stroop_clean_trials.txt",
            eval_script_name="stroop_trial_filter_eval.py",
        ),
    ]


def main():
    gen_toxcls()
    gen_featsel()
    gen_groupstats()
    gen_rulefilter()
    with open(os.path.join(HERE, "tasks.jsonl"), "w") as fh:
        for row in rows():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
