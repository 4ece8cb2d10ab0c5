"""Load every person and employment through dlt-source-personio (v2) into DuckDB.

Usage: dlt_read.py BASE_URL CLIENT_ID CLIENT_SECRET WORKDIR
The source's base URL is a default argument of its REST client factory; it is pointed at the
simulator here without changing the package. Prints one JSON line:
{"persons": N, "employments": N, "elapsed": s, "error": null|"..."}.
"""

import json
import os
import sys
import time


def main() -> None:
    base_url, client_id, client_secret, workdir = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    os.environ["SOURCES__PERSONIO__PERSONIO_CLIENT_ID"] = client_id
    os.environ["SOURCES__PERSONIO__PERSONIO_CLIENT_SECRET"] = client_secret
    os.environ["PERSONIO_CLIENT_ID"] = client_id
    os.environ["PERSONIO_CLIENT_SECRET"] = client_secret
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["DLT_DATA_DIR"] = os.path.join(workdir, "dlt-data")
    os.environ["DLT_PROJECT_DIR"] = workdir

    import dlt
    import dlt_source_personio
    from dlt_source_personio import rest_client

    rest_client.get_rest_client.__defaults__ = (base_url.rstrip("/"),)

    started = time.perf_counter()
    error = None
    persons = employments = 0
    try:
        pipeline = dlt.pipeline(
            pipeline_name="personio_bench",
            destination=dlt.destinations.duckdb(os.path.join(workdir, "bench.duckdb")),
            dataset_name="personio",
            progress="log" if os.environ.get("BENCH_VERBOSE") else None,
        )
        pipeline.run(dlt_source_personio.source())
        with pipeline.sql_client() as client:
            persons = client.execute_sql("select count(*) from persons")[0][0]
            employments = client.execute_sql("select count(*) from employments")[0][0]
    except Exception as e:  # report whatever happened
        error = f"{type(e).__name__}: {e}"[:500]
    elapsed = time.perf_counter() - started
    print(json.dumps({"persons": persons, "employments": employments, "elapsed": elapsed, "error": error}))


if __name__ == "__main__":
    main()
