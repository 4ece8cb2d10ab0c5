"""Read every employee through personio-py (v1), as a user of that library would.

Usage: personio_py_read.py BASE_URL CLIENT_ID CLIENT_SECRET MODE
MODE  library  - the library's own get_employees() (one request, no paging)
      paged    - a limit/offset loop over the library's request_json(), the way a user has to
                 page since Personio enforces pagination (max 100 per page), stopping on a
                 short page; no rate limiting and no retries (the library has none).
Prints one JSON line: {"employees": N, "unique": N, "elapsed": s, "error": null|"..."}.
"""

import json
import sys
import time

from personio_py import Personio


def main() -> None:
    base_url, client_id, client_secret, mode = sys.argv[1:5]
    client = Personio(base_url=base_url.rstrip("/") + "/v1/", client_id=client_id, client_secret=client_secret)
    started = time.perf_counter()
    ids = []
    error = None
    try:
        if mode == "library":
            ids = [e.id_ for e in client.get_employees()]
        else:
            offset = 0
            limit = 100
            while True:
                page = client.request_json("company/employees", params={"limit": limit, "offset": offset})
                data = page.get("data") or []
                ids.extend(d["attributes"]["id"]["value"] for d in data)
                if len(data) < limit:
                    break
                offset += limit
    except Exception as e:  # the point is to report what happened, whatever it was
        error = f"{type(e).__name__}: {e}"[:300]
    elapsed = time.perf_counter() - started
    print(json.dumps({"employees": len(ids), "unique": len(set(ids)), "elapsed": elapsed, "error": error}))


if __name__ == "__main__":
    main()
