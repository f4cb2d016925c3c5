import os

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    train = pd.read_csv("benchmark/datasets/toxcls/toxcls_train.csv")
    test = pd.read_csv("benchmark/datasets/toxcls/toxcls_test.csv")
    features = [c for c in train.columns if c not in ("mol_id", "TOXIC")]

    def add_terms(df):
        X = df[features].copy()
        X["LogP_excess2"] = (X["LogP"] - 4).clip(lower=0) ** 2
        X["Cation"] = (X["FormalCharge"] == 1).astype(int)
        return X

    linear = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    linear.fit(add_terms(train), train["TOXIC"])
    proba = linear.predict_proba(add_terms(test))[:, 1]

    os.makedirs("pred_results", exist_ok=True)
    pd.DataFrame({"mol_id": test["mol_id"], "TOXIC": proba}).to_csv(
        "pred_results/toxcls_test_pred.csv", index=False)


if __name__ == "__main__":
    main()
