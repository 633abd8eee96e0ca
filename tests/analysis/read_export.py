#!/usr/bin/python3
"""Reads a metamerlab trials.csv as an analyst would (pandas.read_csv, defaults) and prints
proportion correct per (participant, condition) over main-phase trials, as JSON:
[{"participant": ..., "condition": ..., "correct": k, "n": n, "proportion": k / n}, ...]
sorted by participant, then condition; plus what it parsed (rows, columns, stimulus file
names, categories, missing response times) to check the quoting. Used by tests/analysis/export_test.cpp."""
import json
import sys

import pandas as pd


def main():
    trials = pd.read_csv(sys.argv[1])
    main_trials = trials[trials["phase"] == "main"]
    out = []
    for (participant, condition), g in main_trials.groupby(["participant", "condition"], sort=True):
        k, n = int(g["correct"].sum()), int(len(g))
        out.append({"participant": participant, "condition": condition, "correct": k, "n": n,
                    "proportion": k / n})
    json.dump({"rows": int(len(trials)), "columns": list(trials.columns), "cells": out,
               "stimulus_files": sorted(trials["stimulus_file"].dropna().unique().tolist()),
               "missing_rt": int(trials["rt_response_ms"].isna().sum()),
               "categories": sorted(trials["category"].dropna().unique().tolist())}, sys.stdout)


if __name__ == "__main__":
    main()
