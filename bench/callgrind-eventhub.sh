#!/bin/bash
# shellcheck disable=SC2154  # set by lib.sh
# Instructions per event the Event Hubs-compatible endpoint delivers,
# counted by callgrind (a count that does not depend on how busy the
# machine is; wall-clock rates do).  An ordinary nginx takes PRELOAD
# telemetry messages from MQTT devices (bench/loadgen pub, the payloads
# of bench/run-eventhub.sh); then a second nginx, one process
# (master_process off) under callgrind, serves bench/eh_consumer (one TLS
# connection, CBS, a receiver on each of the 4 partitions from the start,
# credit CREDIT) twice: it stops after E1 events, then after E2.  Each
# phase is dumped on its own; the set-up (handshake, token, attaches)
# cancels in the difference:
#
#   per event = (Ir(phase 2) - Ir(phase 1)) / (E2 - E1)
#
#   bench/callgrind-eventhub.sh     E1=2000 E2=8000 CREDIT=300 SIZE=256
#   CG_KEEP=DIR   copies the two dumps there (callgrind_annotate them)
#
# Everything nginx runs counts (TLS, Proton, our code, hiredis), Redis
# not: for Redis it prints INFO commandstats of phase 2 per event.  With
# REDIS_CG=1 Redis runs under callgrind too (its counts zeroed and dumped as
# nginx's) and its instructions per event are the same difference.
set -eu
. "$(dirname "$0")/lib.sh"

E1=${E1:-2000}
E2=${E2:-8000}
CREDIT=${CREDIT:-300}
SIZE=${SIZE:-256}
PUBLISHERS=${PUBLISHERS:-8}
PRELOAD=${PRELOAD:-$((E2 + 4 * CREDIT + 2000))}
CONSUMER=$BENCH/eh_consumer

bench_init
amqp_init
make -s -C "$BENCH" eh_consumer loadgen || bench_die "cannot build the consumer"
start_redis
if [ "${REDIS_CG:-0}" = 1 ]; then
    redis_under_callgrind "$WORK/callgrind.redis" "$WORK/valgrind.redis.log"
fi
M1=$(bench_port 60); H1=$(bench_port 61)
M2=$(bench_port 63); H2=$(bench_port 64); A2=$(bench_port 65)
start_nginx ingest 1 "$M1" "$H1"
create_devices "$H1" "$PUBLISHERS"
trim_d2c

while [ "$(d2c_stored)" -lt "$PRELOAD" ]; do
    "$LOADGEN" pub -n "$PUBLISHERS" --qos 1 --window 16 --size "$SIZE" --stamp \
        -d 1 --warmup 0 -t "127.0.0.1:$M1" --key "$DEVICE_KEY" -q >/dev/null 2>&1 ||
        bench_die "loadgen failed"
done
have=$(d2c_stored)

# the configuration start_nginx writes, run by hand under callgrind
dir=$WORK/cg
nginx_under_callgrind "$dir" "$M2" "$H2" "$A2"

phase() {   # phase EVENTS: the events the consumer counted; the dump after it
    local out
    callgrind_control --zero "$CG_PID" >/dev/null 2>&1
    redis_cg --zero
    out=$("$CONSUMER" -t "127.0.0.1:$A2" --hub "$HUB_NAME" --host "$HUB" \
          --policy service --key "$POLICY_SERVICE_PRIMARY" --from-start \
          --credit "$CREDIT" --events "$1" -w 0 -d 300 2>&1) ||
        bench_die "eh_consumer failed: $out"
    sleep 1     # the reads in flight when it closed
    callgrind_control --dump "$CG_PID" >/dev/null 2>&1
    redis_cg --dump
    kv all <<<"$(grep '^RESULT' <<<"$out")"
}

redis_cg() {   # callgrind_control ARGS for Redis under callgrind
    [ "${REDIS_CG:-0}" = 1 ] || return 0
    callgrind_control "$@" "$REDIS_PID" >/dev/null 2>&1
}

dump_ir() {   # the instructions of the newest dump matching GLOB
    local f
    # shellcheck disable=SC2012,SC2086
    f=$(ls -t $1 | head -n1)
    awk '/^summary:/ {print $2}' "$f"
}

NGINX_DUMPS="$dir/callgrind.out.*"
REDIS_DUMPS="$WORK/callgrind.redis.*.*"      # not a fork's (AOF rewrite)
n1=$(phase "$E1"); ir1=$(dump_ir "$NGINX_DUMPS")
[ "${REDIS_CG:-0}" = 1 ] && r1=$(dump_ir "$REDIS_DUMPS")
rcli config resetstat >/dev/null
n2=$(phase "$E2"); ir2=$(dump_ir "$NGINX_DUMPS")
[ "${REDIS_CG:-0}" = 1 ] && r2=$(dump_ir "$REDIS_DUMPS")

if [ -n "${CG_KEEP:-}" ]; then
    mkdir -p "$CG_KEEP"
    # shellcheck disable=SC2012
    ls -t "$dir"/callgrind.out.* | head -n2 | while read -r f; do cp "$f" "$CG_KEEP/"; done
fi

echo "Event Hubs consumer under callgrind: $have events stored ($SIZE-byte payloads), credit $CREDIT per receiver, TLS; modules $MODULES"
echo "phase 1: $n1 events, $ir1 instructions"
echo "phase 2: $n2 events, $ir2 instructions"
awk -v a="$ir1" -v b="$ir2" -v x="$n1" -v y="$n2" \
    'BEGIN { if (y > x) printf "nginx instructions per event: %.0f\n", (b - a) / (y - x) }'
if [ "${REDIS_CG:-0}" = 1 ]; then
    awk -v a="$r1" -v b="$r2" -v x="$n1" -v y="$n2" \
        'BEGIN { if (y > x) printf "Redis instructions per event: %.0f (phase 1 %s, phase 2 %s)\n", (b - a) / (y - x), a, b }'
fi
echo "Redis, phase 2 (commandstats; usec is time, rough on a busy machine):"
rcli info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|xrange|xread|sadd|publish)' |
    awk -F'[:=,]' -v n="$n2" '{ printf "  %-18s calls/event %.4f  usec_per_call %s  usec/event %.3f\n", $1, $3 / n, $7, $5 / n }'
