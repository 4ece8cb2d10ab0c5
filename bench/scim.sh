#!/usr/bin/env bash
# SCIM write throughput: a first sync of N simulated employees into scim2-server through
# personio-sync, against the server's raw create rate (the same number of bare POST /Users
# from a Python client, 4 in flight, like the sync's default concurrency).
# Then a no-op resync, counting the requests it sends.
# Usage: bash bench/scim.sh [N]   (needs scripts/install/scim.sh and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
bin=target/release/personio-sync
scim=.peers/scim-venv/bin/scim2-server
py=.peers/scim-venv/bin/python
[ -x "$bin" ] || cargo build --release -p personio-sync
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim_port=$(free_port); scim_port=$(free_port)
"$bin" sim --employees "$n" --no-rate-limit --port "$sim_port" >/dev/null 2>&1 &
"$scim" --hostname 127.0.0.1 --port "$scim_port" --bearer-token bench-token >/dev/null 2>"$work/scim.log" &
sleep 2
cat > "$work/config.toml" <<TOML
state = "sqlite://$work/state.sqlite"
[[personio]]
name = "acme"
base_url = "http://127.0.0.1:$sim_port"
client_id = "sim-client"
client_secret = "sim-secret"
api = "v1"
rate_limit = false
[[target]]
name = "apps"
type = "scim"
source = "acme"
url = "http://127.0.0.1:$scim_port/v2"
token = "bench-token"
[target.policy]
max_deprovision = "100%"
[target.mapping.fields]
user_name = "{{ id }}"
[target.mapping.groups]
levels = ["department"]
TOML
start=$(date +%s.%N)
"$bin" sync --config "$work/config.toml" > "$work/out.txt" 2>&1 || true; cp "$work/out.txt" /tmp/scim-bench-out.txt
end=$(date +%s.%N)
created=$(grep -oE '[0-9]+ created' "$work/out.txt" | head -1 | cut -d' ' -f1)
cp "$work/scim.log" /tmp/scim-bench-server.log
requests=$(grep -c '"[A-Z]* /v2/' "$work/scim.log" || true)
sync_s=$(echo "$end - $start" | bc)
echo "personio-sync first sync: ${created:-0} users in ${sync_s} s, $requests SCIM requests ($(echo "scale=2; $requests / ${created:-1}" | bc) per user)"
# A no-op resync: nothing planned, so no write (and no request) should reach the server.
"$bin" sync --config "$work/config.toml" > "$work/again.txt" 2>&1 || true
after=$(grep -c '"[A-Z]* /v2/' "$work/scim.log" || true)
writes=$(grep -cE '"(POST|PUT|PATCH|DELETE) /v2/' "$work/scim.log" || true)
echo "no-op resync: $((after - requests)) SCIM requests, writes before/after: $(grep -cE '"(POST|PUT|PATCH|DELETE) /v2/' /tmp/scim-bench-server.log || true)/$writes"
# The server's raw create rate: bare POST /Users, 4 in flight.
raw_port=$(free_port)
"$scim" --hostname 127.0.0.1 --port "$raw_port" --bearer-token bench-token >/dev/null 2>&1 &
sleep 2
"$py" - "$raw_port" "${created:-$n}" <<'PY'
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, n = int(sys.argv[1]), int(sys.argv[2])
def post(i):
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{i}", "externalId": str(i),
                       "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": f"u{i}@x.example", "primary": True}], "active": True}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/Users", data=body, method="POST",
                                 headers={"Authorization": "Bearer bench-token", "Content-Type": "application/scim+json"})
    urllib.request.urlopen(req).read()
start = time.time()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(post, range(n)))
took = time.time() - start
print(f"raw POST /Users: {n} users in {took:.2f} s ({n / took:.0f} users/s)")
PY
