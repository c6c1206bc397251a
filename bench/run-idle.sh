#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>, MOSQ_PID_<name>: set by lib.sh
# Idle density: memory per idle connected TLS device, at 10k and 20k
# devices: nginx RSS growth (master + workers) plus Redis used_memory
# growth, per device; Mosquitto's RSS growth per connection as the peer.
# Every device subscribes to C2D, methods and twin responses as the SDKs do
# (the same three filters on Mosquitto), clean session 0, keep-alive 120 s.
#
#   bench/run-idle.sh         RUNS=3 COUNTS="10000 20000" IDLE_SETTLE=35
#
# IDLE_SETTLE: seconds every server holds its devices idle before its
# memory is read (default 35: the hub's memory_trim, every 30 s by default,
# has returned the pages the handshakes freed; Mosquitto waits as long).
#
# Each measurement starts a fresh server (a process's heap does not shrink
# back) and forgets earlier sessions in Redis, so the Redis growth counts
# each device's presence and persistent session; every device has connected
# once before (priming), so one-time registry growth is not counted. The open-files limit here is
# 20000 per process and cannot be raised: 20k devices need nginx's 2
# workers and 2 load-generator processes; one nginx worker or one Mosquitto
# process can hold at most ~19,990, so their "20k" point is MAX_ONE=19900.
set -eu
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"

COUNTS=${COUNTS:-"10000 20000"}
export IDLE_SETTLE=${IDLE_SETTLE:-35}
CONCURRENCY=${CONCURRENCY:-200}
MAX_ONE=${MAX_ONE:-19900}

bench_init
start_redis
M1=$(bench_port 30); H1=$(bench_port 31)
M2=$(bench_port 32); H2=$(bench_port 33)
MQ=$(bench_port 34)

max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
start_nginx w2 2 "$M2" "$H2"
create_devices "$H2" "$max"
# a device's first connection ever grows its registry hash once (the
# connection state fields): connect every device once, so that the figures
# below are what a connection costs, not what a first connection costs
"$LOADGEN" idle -t "127.0.0.1:$M2" -n "$max" -d 1 --warmup 0 --subscribe -c "$CONCURRENCY" \
    --src-ips 8 --procs 2 --timeout 30 -q --key "$DEVICE_KEY" >/dev/null ||
    bench_die "priming the devices failed"
stop_nginx w2

fdmax=$(ulimit -Hn)
echo "Idle density: TLS 1.3 (P-256), SAS CONNECT, 3 subscriptions, clean session 0, keep-alive 120 s"
echo "$RUNS runs per point, a fresh server each, memory read after $IDLE_SETTLE s idle; open files limit $fdmax per process"
machine

for n in $COUNTS; do
    for run in $(seq "$RUNS"); do
        if [ "$n" -le "$MAX_ONE" ]; then
            idle_once "w1.$n" "$n" w1
        fi
        idle_once "w2.$n" "$n" w2
        if [ "$n" -le "$MAX_ONE" ]; then
            idle_once "mq.$n" "$n" mq
        else
            idle_once "mq.$n" "$MAX_ONE" mq
        fi
    done

    header "Idle density at $n devices: KB per idle connected device"
    # shellcheck disable=SC2046
    {
    if [ "$n" -le "$MAX_ONE" ]; then
        row "nginx-iothub 1 worker, total" "%.1f" $(vals "w1.$n.kb")
        row "  nginx RSS" "%.1f" $(vals "w1.$n.rss_kb")
        row "  redis used_memory" "%.2f" $(vals "w1.$n.redis_kb")
    else
        echo "  nginx-iothub 1 worker: n/a ($n connections exceed the $fdmax open files of one process)"
    fi
    row "nginx-iothub 2 workers, total" "%.1f" $(vals "w2.$n.kb")
    row "  nginx RSS" "%.1f" $(vals "w2.$n.rss_kb")
    row "  redis used_memory" "%.2f" $(vals "w2.$n.redis_kb")
    if [ "$n" -le "$MAX_ONE" ]; then
        row "mosquitto RSS" "%.1f" $(vals "mq.$n.kb")
    else
        row "mosquitto RSS (at $MAX_ONE: fd limit)" "%.1f" $(vals "mq.$n.kb")
    fi
    [ "$n" -le "$MAX_ONE" ] &&
        row "ratio 1 worker / mosquitto" "%.2f" $(ratio_vals "w1.$n.kb" "mq.$n.kb")
    row "ratio 2 workers / mosquitto" "%.2f" $(ratio_vals "w2.$n.kb" "mq.$n.kb")
    echo "  devices connected per second while filling (median):" \
        "$([ "$n" -le "$MAX_ONE" ] && echo "1w $(med "w1.$n.connect_rate"), ")2w $(med "w2.$n.connect_rate"), mosquitto $(med "mq.$n.connect_rate")"
    k=$(med "w2.$n.kb")
    echo "  target <= 15 KB per idle TLS device (issue 13): 2 workers $(verdict "$k" '<=' 15) ($k KB)$(
        [ "$n" -le "$MAX_ONE" ] && k1=$(med "w1.$n.kb") && echo ", 1 worker $(verdict "$k1" '<=' 15) ($k1 KB)")"
    }
done
