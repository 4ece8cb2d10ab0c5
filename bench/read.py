"""Read benchmark: personio-sync against Personio's rate-limit floor and the Python peers.

Everything runs against the same simulator process (`personio-sync sim`, documented rate limits
on, fixed latency), one contender at a time, each in its own process so that its peak memory
(peak RSS from GNU time) is its own. Requests and 429s are read from the simulator's counters.

Usage: python3 bench/read.py [--employees N] [--v2-employees N] [--latency-ms L] [--runs R]
         [--skip-peers] [--out bench/results/read.json]
Run through bench/run-read.sh, which builds the release binary and the peers' venvs.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "personio-sync")
VENV_V1 = os.path.join(ROOT, "bench", ".venv-v1", "bin", "python")
VENV_V2 = os.path.join(ROOT, "bench", ".venv-v2", "bin", "python")


def http_json(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


class Sim:
    def __init__(self, employees, latency_ms):
        self.proc = subprocess.Popen(
            [BIN, "sim", "--employees", str(employees), "--latency-ms", str(latency_ms), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"simulator did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    def counters(self):
        return http_json(self.url + "/__sim/counters")

    def reset(self):
        http_json(self.url + "/__sim/counters/reset", method="POST")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_measured(argv, stdout_path=None, env=None):
    """Runs argv to completion; returns (exit code, wall seconds, peak RSS in MiB, stdout, stderr).

    Peak memory comes from GNU time's %M, not from wait4 here: on Linux a child's maxrss starts
    from the forking parent's, which would charge this script's own memory to the contender."""
    out = open(stdout_path, "w") if stdout_path else tempfile.TemporaryFile("w+")
    err = tempfile.TemporaryFile("w+")
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "PSYNC_MAXRSS_KB=%M", *argv],
                            stdout=out, stderr=err, text=True, env=env)
    code = proc.wait()
    wall = time.perf_counter() - started
    err.seek(0)
    lines = err.read().splitlines()
    rss_kb = float("nan")
    if lines and lines[-1].startswith("PSYNC_MAXRSS_KB="):
        rss_kb = float(lines.pop().split("=", 1)[1])
    stderr = "\n".join(lines)
    stdout = ""
    if not stdout_path:
        out.seek(0)
        stdout = out.read()
    out.close()
    return code, wall, rss_kb / 1024, stdout, stderr


def v1_floor(n, latency):
    """Seconds the documented v1 limits force on a full read of n employees at 100 per page:
    15 requests at once, then 15/s (the 300/min budget is not reached below 300 pages)."""
    pages = max(1, math.ceil(n / 100))
    return max(0.0, (pages - 15) / 15) + latency


def v2_floor(n, units, latency):
    """v2: persons pages (30/s) and one employments call per person (its own 30/s bucket) run
    side by side; org-unit/workplace/entity look-ups share a 10/s bucket."""
    persons_pages = max(1, math.ceil(n / 50))
    employments = max(0.0, (n - 30) / 30)
    lookups = max(0.0, (units - 10) / 10)
    return max(max(0.0, (persons_pages - 30) / 30), employments, lookups) + latency


def config_file(tmp, url, api):
    path = os.path.join(tmp, f"bench-{api}.toml")
    with open(path, "w") as f:
        f.write(f'[[personio]]\nname = "bench"\nbase_url = "{url}"\nclient_id = "sim-client"\n'
                f'client_secret = "sim-secret"\napi = "{api}"\n')
    return path


def bench_ours(sim, tmp, api, runs):
    cfg = config_file(tmp, sim.url, api)
    results = []
    for _ in range(runs):
        # A scheduled sync meets full rate-limit buckets: let them refill between runs
        # (back to back, a run starts on a half-empty bucket and meets a few 429s).
        time.sleep(3)
        sim.reset()
        out = os.path.join(tmp, f"out-{api}.json")
        code, wall, rss, _, stderr = run_measured([BIN, "employees", "--config", cfg, "--format", "json"], out)
        counters = sim.counters()
        n = len(json.load(open(out))) if code == 0 else 0
        results.append({"exit": code, "wall": wall, "rss_mib": rss, "employees": n,
                        "requests": counters["requests"], "r429": counters["status_429"],
                        "stderr_tail": stderr.strip().splitlines()[-3:] if code else []})
    return results


def bench_personio_py(sim, mode):
    sim.reset()
    code, wall, rss, stdout, stderr = run_measured(
        [VENV_V1, os.path.join(ROOT, "bench", "peers", "personio_py_read.py"), sim.url, "sim-client", "sim-secret", mode])
    counters = sim.counters()
    result = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {"error": stderr[-300:]}
    result.update({"exit": code, "wall": wall, "rss_mib": rss, "requests": counters["requests"],
                   "r429": counters["status_429"]})
    return result


def bench_dlt(sim, tmp):
    sim.reset()
    work = os.path.join(tmp, "dlt")
    code, wall, rss, stdout, stderr = run_measured(
        [VENV_V2, os.path.join(ROOT, "bench", "peers", "dlt_read.py"), sim.url, "sim-client", "sim-secret", work])
    counters = sim.counters()
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"error": stderr[-500:]}
    result.update({"exit": code, "wall": wall, "rss_mib": rss, "requests": counters["requests"],
                   "r429": counters["status_429"], "by_route": counters.get("by_route", {})})
    return result


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--employees", type=int, default=10_000)
    ap.add_argument("--v2-employees", type=int, default=1_000)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "read.json"))
    args = ap.parse_args()
    latency = args.latency_ms / 1000
    report = {"latency_ms": args.latency_ms, "machine": os.uname().nodename, "cores": os.cpu_count()}

    with tempfile.TemporaryDirectory() as tmp:
        sim = Sim(args.employees, args.latency_ms)
        try:
            ours = bench_ours(sim, tmp, "v1", args.runs)
            floor = v1_floor(args.employees, latency)
            report["v1"] = {"employees": args.employees, "floor_s": floor, "runs": ours,
                            "wall_median_s": median([r["wall"] for r in ours]),
                            "expected_requests": math.ceil(args.employees / 100) + 1}
            if not args.skip_peers:
                report["personio_py_library"] = bench_personio_py(sim, "library")
                report["personio_py_paged"] = bench_personio_py(sim, "paged")
        finally:
            sim.stop()

        sim = Sim(args.v2_employees, args.latency_ms) if args.v2_employees else None
        try:
            if sim is None:
                raise StopIteration
            ours = bench_ours(sim, tmp, "v2", max(1, args.runs - 1))
            units = None
            report["v2"] = {"employees": args.v2_employees, "runs": ours,
                            "wall_median_s": median([r["wall"] for r in ours]),
                            "requests_per_employee": median([r["requests"] for r in ours]) / args.v2_employees}
            if not args.skip_peers:
                report["dlt_source_personio"] = bench_dlt(sim, tmp)
            # org units etc. are few; the floor is dominated by one employments call per person
            report["v2"]["floor_s"] = v2_floor(args.v2_employees, units or 0, latency)
        except StopIteration:
            pass
        finally:
            if sim is not None:
                sim.stop()

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
