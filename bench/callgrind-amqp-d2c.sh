#!/bin/bash
# shellcheck disable=SC2154  # set by lib.sh
# Instructions per AMQP telemetry message, counted by callgrind: a count
# that does not depend on how busy the machine is (wall-clock rates do).
# One nginx process (master_process off) runs under callgrind; one device
# (amqp_loadgen, TLS, CBS put-token) sends for D1 seconds, then a second
# device for D2 seconds.  Each phase is dumped on its own
# (callgrind_control --dump); the instructions of a phase divided by its
# messages still carry the connection's set-up, the difference of the two
# phases does not:
#
#   per message = (Ir(phase 2) - Ir(phase 1)) / (msgs 2 - msgs 1)
#
#   bench/callgrind-amqp-d2c.sh           D1=3 D2=9 WINDOW=16 SIZE=256
#   MODULES=<other build>/build/modules bench/callgrind-amqp-d2c.sh
#   CG_KEEP=DIR   copies the two dumps there (callgrind_annotate them)
#
# Everything nginx runs counts (TLS, Proton, our code, hiredis), Redis not.
set -eu
. "$(dirname "$0")/lib.sh"

D1=${D1:-3}
D2=${D2:-9}
WINDOW=${WINDOW:-16}
SIZE=${SIZE:-256}

bench_init
amqp_init
start_redis
M1=$(bench_port 60); H1=$(bench_port 61); A1=$(bench_port 62)

# the configuration start_nginx writes, run by hand under callgrind
dir=$WORK/cg
nginx_under_callgrind "$dir" "$M1" "$H1" "$A1"
wait_hub_rest "$H1" 60 || bench_die "nginx under callgrind does not answer REST"
create_devices "$H1" 2

phase() {   # phase SECONDS DEVICE_OFFSET: messages sent; the dump after it
    local out
    callgrind_control --zero "$CG_PID" >/dev/null 2>&1
    out=$("$AMQP_LOADGEN" pub -t "127.0.0.1:$A1" --key "$DEVICE_KEY" -n 1 \
          --first "$2" --window "$WINDOW" --size "$SIZE" -d "$1" --warmup 0 -q 2>&1) ||
        bench_die "amqp_loadgen failed: $out"
    callgrind_control --dump "$CG_PID" >/dev/null 2>&1
    kv total <<<"$(grep '^RESULT' <<<"$out")"
}

dump_ir() {   # the instructions of the newest dump
    local f
    f=$(ls -t "$dir"/callgrind.out.* | head -n1)
    awk '/^summary:/ {print $2}' "$f"
}

n1=$(phase "$D1" 1); ir1=$(dump_ir)
n2=$(phase "$D2" 2); ir2=$(dump_ir)

if [ -n "${CG_KEEP:-}" ]; then
    mkdir -p "$CG_KEEP"
    # shellcheck disable=SC2012
    ls -t "$dir"/callgrind.out.* | head -n2 | while read -r f; do cp "$f" "$CG_KEEP/"; done
fi

echo "AMQP telemetry under callgrind: 1 device, window $WINDOW, $SIZE-byte payloads, TLS; modules $MODULES"
echo "phase 1: $n1 messages, $ir1 instructions"
echo "phase 2: $n2 messages, $ir2 instructions"
awk -v a="$ir1" -v b="$ir2" -v x="$n1" -v y="$n2" \
    'BEGIN { if (y > x) printf "instructions per message: %.0f\n", (b - a) / (y - x); else print "phase 2 sent no more messages than phase 1: raise D2" }'
