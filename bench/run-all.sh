#!/bin/bash
# Every benchmark figure of docs/performance.md, one script after the other
# (each starts and stops its own Redis, nginx nodes and Mosquitto):
#
#   bench/run-all.sh [LOG]     default LOG: bench/results-<date>.txt
#
# The environment of the single scripts applies (RUNS, DURATION, ...).
# Takes about 53 minutes on 2 cores (the two AMQP scripts about 17 of
# them). Not a test: nothing here passes or fails the build; MISS lines
# name the targets not reached.
set -eu
BENCH=$(cd "$(dirname "$0")" && pwd)
LOG=${1:-$BENCH/results-$(date +%Y%m%d-%H%M%S).txt}

{
    echo "nginx-iothub benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$BENCH/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
    # the connect storm twice: one load generator process (it saturates
    # first), then two (the whole machine saturates)
    # run-nodes.sh splits its load generator processes over two nodes
    for s in run-d2c.sh run-connect.sh run-connect.sh:2 run-idle.sh run-rtt.sh \
             run-nodes.sh:2 run-amqp-d2c.sh run-amqp-idle.sh run-churn.sh; do
        procs=${s#*:}
        [ "$procs" = "$s" ] && procs=${LOADGEN_PROCS:-1}
        s=${s%:*}
        echo
        echo "######## LOADGEN_PROCS=$procs bench/$s"
        start=$(date +%s)
        LOADGEN_PROCS=$procs "$BENCH/$s" 2>&1 |
            grep --line-buffered -v -e 'worker_connections exceed open file resource limit' \
                -e 'Mosquitto should not be run as root' -e 'using insecure mode'
        echo "(bench/$s took $(($(date +%s) - start)) s)"
    done
} | tee "$LOG"
echo "results in $LOG"
