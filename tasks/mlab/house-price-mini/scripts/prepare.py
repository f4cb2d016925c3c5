"""Prepare the house-price-mini task (deterministic, offline).

Run with cwd = scripts/. Writes the agent-visible data into ../env (train.csv,
test.csv) and the hidden held-out prices into scripts/answer.csv, then marks
success with the file scripts/prepared.
"""
import csv
import os

import numpy as np

SEED = 20240611
N_ROWS = 1500
N_TEST = 300

NEIGHBORHOODS = ["CollgCr", "OldTown", "Edwards", "NridgHt", "Somerst",
                 "Gilbert", "Sawyer", "StoneBr"]
NEIGHBORHOOD_FACTOR = {"CollgCr": 1.00, "OldTown": 0.72, "Edwards": 0.70,
                       "NridgHt": 1.45, "Somerst": 1.12, "Gilbert": 0.98,
                       "Sawyer": 0.80, "StoneBr": 1.60}
COLUMNS = ["Id", "LotArea", "OverallQual", "OverallCond", "YearBuilt",
           "YearRemodAdd", "GrLivArea", "TotalBsmtSF", "FullBath",
           "BedroomAbvGr", "GarageCars", "Fireplaces", "Neighborhood",
           "CentralAir", "MoSold", "YrSold"]


def generate():
    rng = np.random.RandomState(SEED)
    rows = []
    for i in range(N_ROWS):
        hood = NEIGHBORHOODS[rng.randint(len(NEIGHBORHOODS))]
        f = NEIGHBORHOOD_FACTOR[hood]
        qual = int(np.clip(np.round(rng.normal(5.5 + 2.5 * (f - 1.0), 1.4)), 1, 10))
        cond = int(np.clip(np.round(rng.normal(5.5, 1.1)), 1, 9))
        year = int(np.clip(np.round(rng.normal(1972 + 25 * (f - 1.0) + 3 * (qual - 5.5), 22)), 1880, 2009))
        remod = int(year if rng.rand() < 0.5 else rng.randint(year, 2010))
        liv = int(np.clip(np.round(rng.normal(1000 + 130 * qual, 280)), 450, 4800))
        bsmt = int(0 if rng.rand() < 0.06 else np.clip(np.round(liv * rng.uniform(0.45, 1.05)), 200, 3500))
        lot = int(np.round(np.exp(rng.normal(9.1, 0.35)) * (1.25 if f > 1.3 else 1.0)))
        full_bath = int(np.clip(1 + (liv > 1400) + (liv > 2500) + (rng.rand() < 0.15), 1, 4))
        bed = int(np.clip(np.round(liv / 520 + rng.normal(0, 0.6)), 1, 6))
        garage = int(np.clip(np.round((year - 1920) / 35 + qual / 4 + rng.normal(0, 0.6)), 0, 4))
        fire = int(np.clip(np.round(rng.normal(0.3 + 0.12 * qual, 0.5)), 0, 3))
        air = "Y" if (year > 1950 or rng.rand() < 0.6) else "N"
        mo = int(rng.randint(1, 13))
        yr = int(rng.randint(2006, 2011))
        # price: multiplicative, with interactions and diminishing returns
        log_price = (11.15 + np.log(f)
                     + 0.085 * qual + 0.012 * qual * max(qual - 6, 0)
                     + 0.45 * np.log(liv / 1500.0)
                     + 0.10 * np.log(1 + bsmt / 1000.0)
                     + 0.06 * np.log(lot / 9000.0)
                     + 0.035 * (cond - 5) * (1.0 if year < 1980 else 0.4)
                     + 0.0022 * (remod - 1970) + 0.0012 * (year - 1970)
                     + 0.045 * min(garage, 3) + 0.04 * min(fire, 2)
                     + (0.0 if air == "Y" else -0.12)
                     - 0.02 * (yr - 2006) * (yr >= 2008)
                     + rng.normal(0, 0.07))
        price = int(np.round(np.exp(log_price) / 100.0) * 100)
        rows.append([i + 1, lot, qual, cond, year, remod, liv, bsmt, full_bath,
                     bed, garage, fire, hood, air, mo, yr, price])
    return rows


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.path.join(here, "..", "env")
    rows = generate()
    order = np.random.RandomState(SEED + 1).permutation(len(rows))
    test_idx = set(int(i) for i in order[:N_TEST])
    train = [r for k, r in enumerate(rows) if k not in test_idx]
    test = [r for k, r in enumerate(rows) if k in test_idx]
    write_csv(os.path.join(env, "train.csv"), COLUMNS + ["SalePrice"], train)
    write_csv(os.path.join(env, "test.csv"), COLUMNS, [r[:-1] for r in test])
    write_csv(os.path.join(here, "answer.csv"), ["Id", "SalePrice"], [[r[0], r[-1]] for r in test])
    with open(os.path.join(here, "prepared"), "w") as fh:
        fh.write("success")


if __name__ == "__main__":
    main()
