"""Trains the MLServer side of the endpoint benchmark: LightGBM with the
settings of Flywheel's boosted trees in the benchmark (100 rounds, depth 6,
learning rate 0.1, L2 1) on the same CSV, saved for mlserver-lightgbm, with
MLServer's settings and the first row as the request.

    python endpoints_mlserver.py fraud.csv OUT_DIR
"""

import json
import os
import sys

import lightgbm
import pandas

csv, out = sys.argv[1], sys.argv[2]
data = pandas.read_csv(csv)
x, y = data.drop(columns=["Class"]), data["Class"]
params = {"objective": "binary", "max_depth": 6, "learning_rate": 0.1, "lambda_l2": 1.0,
          "min_sum_hessian_in_leaf": 1.0, "verbose": -1}
booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=100)
os.makedirs(os.path.join(out, "fraud"), exist_ok=True)
booster.save_model(os.path.join(out, "fraud", "model.txt"))
with open(os.path.join(out, "fraud", "model-settings.json"), "w") as f:
    json.dump({"name": "fraud", "implementation": "mlserver_lightgbm.LightGBMModel",
               "parameters": {"uri": "./model.txt"}}, f)
with open(os.path.join(out, "settings.json"), "w") as f:
    # parallel_workers 0: inference in the server's own process. MLServer 1.7's
    # worker pool does not start with the uvloop that pip installs beside it
    # ("There is no current event loop"), and on 2 cores a pool has little to gain.
    json.dump({"http_port": 8090, "grpc_port": 8091, "metrics_port": 8092, "debug": False,
               "parallel_workers": 0}, f)
with open(os.path.join(out, "row.json"), "w") as f:
    json.dump([float(v) for v in x.iloc[0].tolist()], f)
