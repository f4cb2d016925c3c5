import os

import pandas as pd
from sklearn.feature_selection import SelectKBest, f_regression


def main():
    expr = pd.read_csv("benchmark/datasets/drug_response/expression.csv")
    resp = pd.read_csv("benchmark/datasets/drug_response/response.csv")
    data = expr.merge(resp, on="cell_line", how="inner", validate="one_to_one")
    genes = [c for c in expr.columns if c != "cell_line"]

    selector = SelectKBest(f_regression, k=10).fit(data[genes], data["log_ic50"])
    selected = [g for g, keep in zip(genes, selector.get_support()) if keep]

    os.makedirs("pred_results", exist_ok=True)
    expr[selected].to_csv("pred_results/drug_response_selected_features.csv", index=False)


if __name__ == "__main__":
    main()
