"""The endpoint benchmark's driver (run by tests/bench/endpoints.sh, which
builds and installs what it needs first): Flywheel's endpoint against Seldon's
MLServer serving the equivalent LightGBM model, both driven by the same load
tool (oha) in the same run, then the traffic split and the shadow's cost.

Prints one table. Every figure is measured here, in this run.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

B = sys.argv[1]  # the work directory
FLYWHEEL = sys.argv[2]  # target/release/flywheel
OHA = sys.argv[3]
VENV = sys.argv[4]
RATE = int(os.environ.get("RATE", "1000"))
SECS = int(os.environ.get("SECONDS_PER_RUN", "10"))
FW = "http://127.0.0.1:8088"
ML = "http://127.0.0.1:8090"
PASSWORD = "bench-password-1"


def call(method, url, body=None, token=None, content_type="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", content_type)
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def wait_until(what, probe, limit=300):
    start = time.time()
    while time.time() - start < limit:
        try:
            if probe():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    sys.exit(f"{what}: not ready after {limit} s")


def train(token, body):
    job = call("POST", f"{FW}/api/v1/training-jobs", body, token)
    while True:
        job = call("GET", f"{FW}/api/v1/training-jobs/{job['id']}", token=token)
        if job["state"] == "completed":
            return job["id"]
        if job["state"] in ("failed", "cancelled"):
            sys.exit(f"training job {job['id']}: {job['state']}: {job.get('error')}")
        time.sleep(1)


def oha(url, body, headers, rate=None, seconds=SECS, requests=None):
    args = [OHA, "--no-tui", "--output-format", "json", "-m", "POST", "-d", body, "-c", "32"]
    for h in headers:
        args += ["-H", h]
    args += ["-n", str(requests)] if requests else ["-z", f"{seconds}s"]
    if rate:
        args += ["-q", str(rate)]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    codes = r.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    # Requests cut off when the run's time is up are not errors.
    errors = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(
        v for k, v in r.get("errorDistribution", {}).items() if "deadline" not in k)
    p = r["latencyPercentiles"]
    return {"rps": r["summary"]["requestsPerSec"], "p50": p["p50"] * 1000, "p95": p["p95"] * 1000,
            "p99": p["p99"] * 1000, "ok": ok, "errors": errors}


def main():
    data = os.path.join(B, "data")
    subprocess.run([FLYWHEEL, "--data-dir", data, "user", "create", "--email", "bench@example.org", "--name", "Bench"],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    env = dict(os.environ, FLYWHEEL_KERNEL_PROGRAM="/nonexistent-no-kernels-in-this-benchmark",
               FLYWHEEL_LOG_FORMAT="json", RUST_LOG="warn")
    fw = subprocess.Popen([FLYWHEEL, "--data-dir", data, "serve", "--bind", "127.0.0.1:8088"], env=env,
                          stdout=open(os.path.join(B, "flywheel.log"), "w"), stderr=subprocess.STDOUT)
    ml = None
    try:
        wait_until("Flywheel", lambda: urllib.request.urlopen(f"{FW}/healthz").status == 200)
        token = call("POST", f"{FW}/api/v1/tokens", {"email": "bench@example.org", "password": PASSWORD, "name": "bench"})["token"]
        with open(os.path.join(B, "fraud.csv"), "rb") as f:
            call("POST", f"{FW}/api/v1/datasets?filename=fraud.csv", f.read(), token, "text/csv")
        channels = {"train": "dataset:fraud.csv", "target": "Class"}
        trees = train(token, {"algorithm": "gradient_boosted_trees",
                              "hyperparameters": {"iterations": 100, "max_depth": 6, "learning_rate": 0.1}, "data": channels})
        linear = train(token, {"algorithm": "linear_learner", "data": channels})
        deploy = lambda body: call("POST", f"{FW}/api/v1/endpoints", body, token)  # noqa: E731
        deploy({"name": "fraud", "capture_percent": 100, "variants": [{"name": "trees", "model": {"training_job": trees}}]})
        deploy({"name": "nocapture", "capture_percent": 0, "variants": [{"name": "trees", "model": {"training_job": trees}}]})
        deploy({"name": "split", "capture_percent": 100, "variants": [
            {"name": "trees", "model": {"training_job": trees}, "weight": 2},
            {"name": "linear", "model": {"training_job": linear}, "weight": 1}]})
        deploy({"name": "shadowed", "capture_percent": 100, "variants": [{"name": "trees", "model": {"training_job": trees}}],
                "shadow": {"variant": {"name": "linear", "model": {"training_job": linear}}, "sample_percent": 100}})

        # MLServer: LightGBM with the same settings on the same rows.
        ml_dir = os.path.join(B, "mlserver")
        subprocess.run([os.path.join(VENV, "bin", "python"), os.path.join(os.path.dirname(__file__), "endpoints_mlserver.py"),
                        os.path.join(B, "fraud.csv"), ml_dir], check=True)
        ml = subprocess.Popen([os.path.join(VENV, "bin", "mlserver"), "start", ml_dir],
                              stdout=open(os.path.join(B, "mlserver.log"), "w"), stderr=subprocess.STDOUT)
        wait_until("MLServer", lambda: ml.poll() is None and urllib.request.urlopen(f"{ML}/v2/models/fraud/ready").status == 200, 120)

        with open(os.path.join(ml_dir, "row.json")) as f:
            row = json.load(f)
        fw_body = json.dumps({"instances": [row]})
        ml_body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]})
        fw_headers = ["content-type: application/json", f"authorization: Bearer {token}"]
        ml_headers = ["content-type: application/json"]
        fw_url, ml_url = f"{FW}/endpoints/fraud/invocations", f"{ML}/v2/models/fraud/infer"
        fw_answer = call("POST", fw_url, json.loads(fw_body), token)
        ml_answer = call("POST", ml_url, json.loads(ml_body))
        print(f"same row: Flywheel score {fw_answer['predictions'][0]['score']:.3e}, "
              f"MLServer (LightGBM) {ml_answer['outputs'][0]['data']}")

        for url, body, headers in ((fw_url, fw_body, fw_headers), (ml_url, ml_body, ml_headers)):
            oha(url, body, headers, rate=200, seconds=3)  # warm-up
        rows = []
        for label, url, body, headers in (("Flywheel (capture 100 %)", fw_url, fw_body, fw_headers),
                                          ("MLServer 1.7 + LightGBM", ml_url, ml_body, ml_headers)):
            rows.append((label, f"{RATE}/s", oha(url, body, headers, rate=RATE)))
            rows.append((label, "saturation", oha(url, body, headers)))
        rows.append(("Flywheel (capture 0 %)", f"{RATE}/s", oha(f"{FW}/endpoints/nocapture/invocations", fw_body, fw_headers, rate=RATE)))
        shadow_off = oha(fw_url, fw_body, fw_headers, rate=RATE)
        shadow_on = oha(f"{FW}/endpoints/shadowed/invocations", fw_body, fw_headers, rate=RATE)
        rows.append(("Flywheel, no shadow (again)", f"{RATE}/s", shadow_off))
        rows.append(("Flywheel, shadow on 100 %", f"{RATE}/s", shadow_on))

        print(f"\nOne row per request, 32 connections, {SECS} s per run, loopback, the same oha for both.\n")
        print(f"| server | load | requests/s | p50 ms | p95 ms | p99 ms | errors |")
        print(f"| --- | --- | --- | --- | --- | --- | --- |")
        for label, load, r in rows:
            print(f"| {label} | {load} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['errors']} |")
        fw_fixed, ml_fixed, fw_sat, ml_sat = rows[0][2], rows[2][2], rows[1][2], rows[3][2]
        print(f"\nFlywheel ÷ MLServer at {RATE}/s: p50 {fw_fixed['p50'] / ml_fixed['p50']:.2f}×, p99 {fw_fixed['p99'] / ml_fixed['p99']:.2f}×; "
              f"saturation throughput {fw_sat['rps'] / ml_sat['rps']:.2f}× (targets: p50 ≤ 1 ms, p99 ≤ 5 ms at 1,000/s; ≥ 2,000/s)")
        print(f"Shadow's cost at {RATE}/s: p99 {shadow_on['p99']:.2f} ms against {shadow_off['p99']:.2f} ms "
              f"({100 * (shadow_on['p99'] / shadow_off['p99'] - 1):+.0f} %; target ≤ +10 %)")

        # Traffic split: 10,000 requests to weights 2 : 1.
        oha(f"{FW}/endpoints/split/invocations", fw_body, fw_headers, requests=10_000)
        split = call("GET", f"{FW}/api/v1/endpoints/split", token=token)
        counts = {v["name"]: v["metrics"]["captured"] for v in split["variants"]}
        total = sum(counts.values())
        share = 100 * counts["trees"] / total
        print(f"Traffic split over {total} requests at weights 2 : 1: trees {share:.2f} % (expected 66.67 %, "
              f"{share - 200 / 3:+.2f} points; target ±2)")
    finally:
        fw.terminate()
        if ml:
            ml.terminate()


if __name__ == "__main__":
    main()
