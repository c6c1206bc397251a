#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# Faults under QoS 1 telemetry load: acknowledged against stored.
#
#   bench/fault.sh       MODES="always everysec none" DURATION=20
#                        PUBLISHERS=20 WINDOW=8 SIZE=64 REDIS_DOWN=1
#
# Per Redis persistence mode (REDIS_PERSIST of lib.sh: AOF with appendfsync
# always or everysec, or none): a fresh Redis and a hub with 2 workers,
# PUBLISHERS devices publishing QoS 1 over TLS for DURATION seconds, each
# lost connection reopened (loadgen --reconnect). During the load:
#   at 30% of DURATION  kill -9 one nginx worker (the master starts another)
#   at 55%              kill -9 Redis; REDIS_DOWN s later Redis starts
#                       again on the same data directory
# Every payload carries a unique tag; the load generator lists the tag of
# each PUBACK (loadgen --acked). Afterwards the telemetry streams
# (iothub:<hub>:d2c:<p>) are read back and the script prints acknowledged,
# stored, "lost = acknowledged - stored", and exactly: acknowledged tags
# not stored (lost messages), stored tags never acknowledged (the PUBACK
# was lost with the connection: the device sends them again, at least
# once), duplicates. Exits 1 when appendfsync always lost an acknowledged
# message. Loopback only, bounded in time (about DURATION + 15 s a mode).
set -eu
DURATION=${DURATION:-20}    # before lib.sh, whose default is 5
. "$(dirname "$0")/lib.sh"

MODES=${MODES:-"always everysec none"}
PUBLISHERS=${PUBLISHERS:-20}
WINDOW=${WINDOW:-8}
SIZE=${SIZE:-64}
REDIS_DOWN=${REDIS_DOWN:-1}

bench_init
M=$(bench_port 20)
H=$(bench_port 21)

# the tags of one stream's bodies, a page at a time: {last id, tags...};
# an entry holds "n" packed messages (shared/ngx_iothub_d2c_pack.h): per
# message a 2-byte field count, then each name and value as a 4-byte
# length, the bytes and a NUL; the name "body" is packed as the byte 8
TAGS_LUA='
local function u32(s, at)
  local a, b, c, d = string.byte(s, at, at + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local function bodies(m, out)
  local at = 1
  while at <= #m do
    local n = string.byte(m, at) * 256 + string.byte(m, at + 1)
    at = at + 2
    for _ = 1, n do
      local len = u32(m, at)
      local name = string.sub(m, at + 4, at + 3 + len)
      at = at + 5 + len
      len = u32(m, at)
      if name == "\8" then
        out[#out + 1] = string.sub(m, at + 5, at + 20)
      end
      at = at + 5 + len
    end
  end
end
local e = redis.call("XRANGE", KEYS[1], ARGV[1], "+", "COUNT", 2000)
local out = {e[#e] and e[#e][1] or ""}
for i = 1, #e do
  local f = e[i][2]
  for j = 1, #f, 2 do
    if f[j] == "m" then bodies(f[j + 1], out) end
  end
end
return out'

# stored_tags FILE: every stored message's tag, a line each
stored_tags() {
    local key start page
    : > "$1"
    for key in $(rcli --scan --pattern "iothub:$HUB_NAME:d2c:*"); do
        start=-
        while :; do
            page=$(rcli eval "$TAGS_LUA" 1 "$key" "$start")
            [ -n "$page" ] && [ "${page%%$'\n'*}" != "" ] || break
            sed 1d <<<"$page" >> "$1"
            start="(${page%%$'\n'*}"
        done
    done
}

# at SECONDS: sleep until SECONDS after the load started
at() {
    local left
    left=$(awk -v t="$1" -v s="$T0" -v n="$(date +%s.%N)" \
               'BEGIN { d = t - (n - s); print (d > 0 ? d : 0) }')
    sleep "$left"
}

# stamp: seconds since the load started
stamp() {
    awk -v s="$T0" -v n="$(date +%s.%N)" 'BEGIN { printf "%5.1f s", n - s }'
}

# one_mode MODE: one run; appends its figures to $WORK/summary
one_mode() {
    local mode=$1 out=$WORK/loadgen-$1.out acked=$WORK/acked-$1
    local lg worker stored pubacks uacked ustored lost missing extra dups
    local t_start back

    header "Redis persistence: $mode"
    t_start=$(date +%s)
    REDIS_PERSIST=$mode start_redis
    start_nginx hub 2 "$M" "$H"
    create_devices "$H" "$PUBLISHERS"

    "$LOADGEN" pub -n "$PUBLISHERS" --qos 1 --window "$WINDOW" \
        --size "$SIZE" -d "$DURATION" --warmup 0 -t "127.0.0.1:$M" \
        --key "$DEVICE_KEY" --reconnect --acked "$acked" -q > "$out" 2>&1 &
    lg=$!
    for _ in $(seq 600); do
        grep -q '^READY' "$out" && break
        kill -0 "$lg" 2>/dev/null || bench_die "loadgen failed: $(cat "$out")"
        sleep 0.1
    done
    grep -q '^READY' "$out" || bench_die "loadgen did not connect: $(cat "$out")"
    T0=$(date +%s.%N)
    echo "  $(stamp)  $PUBLISHERS publishers, QoS 1, window $WINDOW, $SIZE B, ${DURATION} s"

    at "$(awk -v d="$DURATION" 'BEGIN { print d * 0.3 }')"
    worker=$(pgrep -P "$NGINX_PID_hub" | head -n1)
    [ -n "$worker" ] || bench_die "no nginx worker to kill"
    kill -KILL "$worker"
    echo "  $(stamp)  kill -9 nginx worker $worker"

    at "$(awk -v d="$DURATION" 'BEGIN { print d * 0.55 }')"
    crash_redis
    echo "  $(stamp)  kill -9 redis"
    sleep "$REDIS_DOWN"
    run_redis
    back=$(d2c_stored)
    echo "  $(stamp)  redis started again ($(rcli dbsize) keys, $back messages loaded)"

    wait "$lg" || bench_die "loadgen failed: $(cat "$out")"
    echo "  $(stamp)  load over: $(grep -E '^  connections:' "$out" | sed 's/^ *//')"
    pubacks=$(grep '^RESULT' "$out" | kv pubacks)

    stored_tags "$WORK/stored-$mode"
    stored=$(d2c_stored)
    sort -u "$acked" > "$acked.u"
    sort -u "$WORK/stored-$mode" > "$WORK/stored-$mode.u"
    uacked=$(wc -l < "$acked.u")
    ustored=$(wc -l < "$WORK/stored-$mode.u")
    missing=$(comm -23 "$acked.u" "$WORK/stored-$mode.u" | wc -l)
    extra=$(comm -13 "$acked.u" "$WORK/stored-$mode.u" | wc -l)
    dups=$((stored - ustored))
    lost=$((pubacks - stored))

    echo "  acknowledged (PUBACKs)             $pubacks ($uacked distinct)"
    echo "  stored (d2c_stored)                $stored ($((stored - back)) after the restart)"
    echo "  lost = acknowledged - stored       $lost"
    echo "  acknowledged, not stored           $missing"
    echo "  stored, never acknowledged         $extra"
    echo "  stored twice                       $dups"
    printf '%-9s %10s %10s %10s %10s %10s\n' "$mode" "$pubacks" "$stored" \
        "$lost" "$missing" "$extra" >> "$WORK/summary"

    stop_nginx hub
    stop_pid "$REDIS_PID" TERM 10
    rm -rf "$WORK/redis" "$WORK/hub"
    echo "  (took $(($(date +%s) - t_start)) s)"
    [ "$mode" != always ] || [ "$missing" -eq 0 ] || FAILED=1
}

echo "Faults under QoS 1 telemetry: kill -9 an nginx worker, kill -9 and restart Redis"
machine
FAILED=0
printf '%-9s %10s %10s %10s %10s %10s\n' persist acked stored \
    'ack-stored' 'lost' 'unacked' > "$WORK/summary"
for mode in $MODES; do
    one_mode "$mode"
done

header "summary (lost: acknowledged messages not stored; unacked: stored," \
    "PUBACK lost with the connection)"
cat "$WORK/summary"
if [ "$FAILED" = 1 ]; then
    echo "FAIL: appendfsync always lost acknowledged messages" >&2
    exit 1
fi
