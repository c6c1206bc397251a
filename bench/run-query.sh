#!/bin/bash
# Query latency over many twins (POST /devices/query, rest.md 9): a private
# Redis and one nginx node (1 worker), COUNT devices created through the
# bulk API, each twin's tags set to {"grp":"g<n % 100>","n":<n>} (written
# straight into Redis, then the tag index built with the janitor's own
# tag_index_build.lua), then, RUNS times each, the wall time of:
#
#   indexed     SELECT * FROM devices WHERE tags.grp = 'g7'
#               (1% of the twins; walks the tag index set only)
#   scanned     the same rows with "... OR false" (no index: every twin)
#   count       SELECT COUNT() AS n FROM devices (every twin, one answer)
#   listing     SELECT deviceId FROM devices, every page of 1000
#
# each query run to its last page (x-ms-max-item-count 1000, following
# x-ms-continuation). Figures are wall-clock: run it on a quiet machine.
#
#   bench/run-query.sh                COUNT=10000 RUNS=5
#   COUNT=100000 bench/run-query.sh
set -eu
. "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-10000}
PAGE=1000

bench_init
start_redis
MQ=$(bench_port 60); HTTPS=$(bench_port 61)
start_nginx q 1 "$MQ" "$HTTPS"

P="iothub:$HUB_NAME:"

echo "creating $COUNT devices..." >&2
create_devices "$HTTPS" "$COUNT"

# tags straight into the twin hashes (RESP through redis-cli --pipe)
awk -v n="$COUNT" -v p="$P" 'BEGIN {
    for (i = 1; i <= n; i++) {
        k = p "{dev" i "}:twin"
        v = "{\"grp\":\"g" (i % 100) "\",\"n\":" i "}"
        printf "*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$4\r\ntags\r\n$%d\r\n%s\r\n",
               length(k), k, length(v), v
    }
}' | rcli --pipe >/dev/null

# the tag index of those twins, as the janitor builds it
rcli del "${P}tagidx:ready" "${P}tagidx:cursor" >/dev/null
script=$(cat "$ROOT/shared/lua/tag_index_build.lua")
until [ "$(rcli eval "$script" 4 iothub:bench-lock "${P}devices" \
               "${P}tagidx:ready" "${P}tagidx:cursor" bench 60000 "$P" 1000)" = 1 ]; do
    :
done
echo "tag index: $(rcli zcard "${P}tagidx:grp"$'\n'"g7") twins with grp g7" >&2

# query_pages SQL: runs the query to its last page; prints seconds and rows
query_pages() {
    local sql=$1 token="" start end rows=0 n headers body
    headers=$WORK/query.headers
    body=$WORK/query.body
    start=$(date +%s.%N)
    while :; do
        curl -sS --max-time 300 --cacert "$CA" --resolve "$HUB:$HTTPS:127.0.0.1" \
            -X POST -H "Authorization: $OWNER_TOKEN" \
            -H 'Content-Type: application/json' -H "x-ms-max-item-count: $PAGE" \
            ${token:+-H "x-ms-continuation: $token"} \
            --data-binary "{\"query\":\"$sql\"}" -D "$headers" -o "$body" \
            "https://$HUB:$HTTPS/devices/query?api-version=$API_VERSION" ||
            bench_die "query failed (curl)"
        head -n1 "$headers" | grep -q ' 200' ||
            bench_die "query: $(head -n1 "$headers"): $(cat "$body")"
        n=$(grep -o '"deviceId"' "$body" | wc -l || true)
        rows=$((rows + n))
        token=$(awk 'tolower($1) == "x-ms-continuation:" {print $2}' "$headers" | tr -d '\r')
        [ -n "$token" ] || break
    done
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v r="$rows" 'BEGIN {printf "%.3f %d\n", e - s, r}'
}

echo "Query latency over $COUNT twins, one nginx worker, pages of $PAGE, $RUNS runs"
machine

declare -A SQL=(
    [indexed]="SELECT * FROM devices WHERE tags.grp = 'g7'"
    [scanned]="SELECT * FROM devices WHERE tags.grp = 'g7' OR false"
    [count]="SELECT COUNT() AS n FROM devices"
    [listing]="SELECT deviceId FROM devices"
)

header "seconds to the last page (median of $RUNS; min..max), rows"
for name in indexed scanned count listing; do
    times=()
    for _ in $(seq "$RUNS"); do
        read -r secs rows < <(query_pages "${SQL[$name]}")
        times+=("$secs")
    done
    printf '%-8s %s  rows %s\n' "$name" \
        "$(printf '%s\n' "${times[@]}" | sort -n |
           awk '{v[NR] = $1} END {printf "%.3f (%.3f..%.3f)", v[int((NR + 1) / 2)], v[1], v[NR]}')" \
        "$rows"
done
