import os

import pandas as pd


def main():
    stations = pd.read_csv("benchmark/datasets/air_quality/stations.csv")
    readings = pd.read_csv("benchmark/datasets/air_quality/pm25_daily.csv")
    data = readings.merge(stations[["station_id", "region"]], on="station_id", how="left")
    data = data.dropna(subset=["pm25"])

    stats = (data.groupby("region")["pm25"]
             .agg(mean_pm25="mean", std_pm25="std", n_readings="count")
             .reset_index()
             .sort_values("region"))

    os.makedirs("pred_results", exist_ok=True)
    stats.to_csv("pred_results/region_pm25_stats.csv", index=False)


if __name__ == "__main__":
    main()
