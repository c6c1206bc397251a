#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# D2C telemetry on one nginx node against two nodes of the same hub on one
# Redis (issue 13 item 5): separate nginx instances, each its own config
# and ports, WORKERS workers each, both on the same Redis. QoS 1
# publishers with a bounded window, every message stored before its
# PUBACK, as bench/run-d2c.sh; the load generator's processes are split
# over the nodes (loadgen -t A -t B --procs P: process i to node i mod 2),
# and the one-node run uses the same processes, all on node A. Rounds
# interleave one node and two nodes.
#
#   bench/run-nodes.sh        RUNS=3 DURATION=5 PUBLISHERS="10 100"
#                             WINDOW=16 QOS=1 SIZE=256 WORKERS=1
#                             LOADGEN_PROCS=2 (a multiple of 2)
#                             NODE_CPU= (unset: no cap)
#
# NODE_CPU=0.2 gives each node a CPU budget of 0.2 cores (a cgroup quota
# on its master and workers, bench/lib.sh cpu_cap; needs root): a node is
# then a small machine of its own, and a machine with fewer cores than
# nodes + Redis + load generator can measure what a second node adds for
# as long as Redis and the load generator have CPU to spare. The script
# checks that they had.
#
# Prints per publisher count: msg/s acknowledged (median, min..max,
# spread) and the two-node/one-node ratio per run; the CPU each process
# used; the CPU per message of each node and of Redis; Redis's INFO
# commandstats per message (calls, microseconds per call and per message);
# where Redis saturates (messages/s when it uses one whole core =
# 1e6 / Redis's microseconds per message); and, from those per-message
# costs, a PROJECTION of one node against two on a machine with a core for
# every nginx worker and one for Redis. A machine with fewer cores than
# the load generator, both nodes and Redis need cannot measure the scaling
# itself: the script says so.
set -eu
LOADGEN_PROCS=${LOADGEN_PROCS:-2}   # before lib.sh, whose default is 1
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"

PUBLISHERS=${PUBLISHERS:-"10 100"}
WINDOW=${WINDOW:-16}
QOS=${QOS:-1}
SIZE=${SIZE:-256}
WORKERS=${WORKERS:-1}
NODE_CPU=${NODE_CPU:-}

[ $((LOADGEN_PROCS % 2)) = 0 ] ||
    bench_die "LOADGEN_PROCS must be a multiple of 2 (half of them per node)"

bench_init
start_redis
MA=$(bench_port 70); HA=$(bench_port 71)
MB=$(bench_port 72); HB=$(bench_port 73)
start_nginx a "$WORKERS" "$MA" "$HA"
start_nginx b "$WORKERS" "$MB" "$HB"
PIDS_A=$(tree_pids "$NGINX_PID_a")
PIDS_B=$(tree_pids "$NGINX_PID_b")
if [ -n "$NODE_CPU" ]; then
    # shellcheck disable=SC2086
    { cpu_cap a "$NODE_CPU" $PIDS_A; cpu_cap b "$NODE_CPU" $PIDS_B; }
fi
CORES=$(nproc)

max=0
for n in $PUBLISHERS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$HA" "$max"

# ---- one measurement --------------------------------------------------------

# ticks_cores TICKS NS: CPU ticks over NS nanoseconds of wall time, in cores
ticks_cores() {
    awk -v t="$1" -v w="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz / (w / 1e9)}'
}

# ticks_us TICKS MESSAGES: CPU microseconds per message
ticks_us() {
    awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {if (n > 0) printf "%.2f", t / hz * 1e6 / n}'
}

# commandstats KEY TOTAL < INFO commandstats: per command, calls per
# message and microseconds per call, recorded under KEY.cmd.<name>.*; the
# names under KEY.cmds (the measurement's own CONFIG and INFO left out)
commandstats() {
    local key=$1 total=$2 name calls usec
    while IFS=' ' read -r name calls usec; do
        case $name in config*|info*) continue ;; esac
        case " $(vals "$key.cmds") " in *" $name "*) ;; *) add "$key.cmds" "$name" ;; esac
        add "$key.cmd.$name.calls" "$(awk -v c="$calls" -v n="$total" 'BEGIN {printf "%.4f", c / n}')"
        add "$key.cmd.$name.usec_call" "$(awk -v c="$calls" -v u="$usec" 'BEGIN {printf "%.2f", u / c}')"
        add "$key.cmd.$name.usec_msg" "$(awk -v u="$usec" -v n="$total" 'BEGIN {printf "%.3f", u / n}')"
    done < <(tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
        sub(/^cmdstat_/, "", $1); print $1, $3, $5 }')
}

# nodes_once KEY NODE...: one measurement, the publishers on the nodes (a,
# b). Records under KEY the load generator's rate, p50_us, p99_us,
# cpu_pct, total; per node KEY.<node>.cores and KEY.<node>.us (CPU per
# message it acknowledged); the nodes' KEY.nginx_us (their CPU over every
# message), KEY.redis_cores, KEY.redis_us (Redis's process CPU per
# message), KEY.script_us (the time of Redis's scripts per message, from
# INFO commandstats), KEY.per_call (messages per script call) and the
# commands. Messages are those the load generator saw acknowledged in the
# whole run, warm-up and drain included, over which the CPU is taken too.
nodes_once() {
    local key=$1 node out line wall total v r0 r1 s0 s1 all=0 calls
    shift
    local targets=() c0=() c1=() i
    for node in "$@"; do
        case $node in
        a) targets+=(-t "127.0.0.1:$MA") ;;
        b) targets+=(-t "127.0.0.1:$MB") ;;
        esac
    done
    trim_d2c
    rcli config resetstat >/dev/null
    # shellcheck disable=SC2086
    { c0[0]=$(cpu_ticks $PIDS_A); c0[1]=$(cpu_ticks $PIDS_B); }
    r0=$(cpu_ticks "$REDIS_PID")
    s0=$(date +%s%N)
    if ! out=$("$LOADGEN" pub -n "$N" --qos "$QOS" --window "$WINDOW" --size "$SIZE" \
            -d "$DURATION" --warmup "$WARMUP" --procs "$LOADGEN_PROCS" \
            "${targets[@]}" --key "$DEVICE_KEY" -q 2>&1); then
        printf 'bench: loadgen failed:\n%s\n' "$out" >&2
        return 1
    fi
    s1=$(date +%s%N)
    # shellcheck disable=SC2086
    { c1[0]=$(cpu_ticks $PIDS_A); c1[1]=$(cpu_ticks $PIDS_B); }
    r1=$(cpu_ticks "$REDIS_PID")
    wall=$((s1 - s0))
    line=$(grep '^RESULT' <<<"$out")
    for v in rate p50_us p99_us cpu_pct total; do
        add "$key.$v" "$(kv "$v" <<<"$line")"
    done
    total=$(kv total <<<"$line")
    [ "${total:-0}" -gt 0 ] || bench_die "$key: no message acknowledged"
    for i in 0 1; do
        node=$([ $i = 0 ] && echo a || echo b)
        all=$((all + c1[i] - c0[i]))
        case " $* " in *" $node "*) ;; *) continue ;; esac
        add "$key.$node.cores" "$(ticks_cores $((c1[i] - c0[i])) "$wall")"
        v=$total
        if [ $# -gt 1 ]; then
            v=$(grep "^TARGET addr=127.0.0.1:$([ $i = 0 ] && echo "$MA" || echo "$MB") " <<<"$out" | kv total)
        fi
        add "$key.$node.us" "$(ticks_us $((c1[i] - c0[i])) "$v")"
    done
    add "$key.nginx_us" "$(ticks_us "$all" "$total")"
    add "$key.redis_cores" "$(ticks_cores $((r1 - r0)) "$wall")"
    add "$key.redis_us" "$(ticks_us $((r1 - r0)) "$total")"
    rcli info commandstats > "$WORK/commandstats"
    commandstats "$key" "$total" < "$WORK/commandstats"
    # scripts: EVALSHA, EVAL (after NOSCRIPT), functions; their time holds
    # the commands they run
    v=$(tr -d '\r' < "$WORK/commandstats" | awk -F'[:,=]' '
        $1 ~ /^cmdstat_(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/ {
            c += $3; u += $5 }
        END {printf "%d %d", c, u}')
    calls=${v% *}
    add "$key.script_us" "$(awk -v u="${v#* }" -v n="$total" 'BEGIN {printf "%.3f", u / n}')"
    [ "$calls" -gt 0 ] &&
        add "$key.per_call" "$(awk -v c="$calls" -v n="$total" 'BEGIN {printf "%.1f", n / c}')"
    note_failures "$key" "$line"
}

# ---- the report ---------------------------------------------------------------

# per_s US: messages per second at one core, 1e6 / US ("-" without US)
per_s() {
    awk -v us="$1" 'BEGIN {if (us + 0 > 0) printf "%.0f", 1e6 / us; else print "-"}'
}

# min A B: the smaller ("-" when either is missing)
min() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-") print "-"; else print (a + 0 < b + 0) ? a : b }'
}

# the table of INFO commandstats, per message, median of runs; commands
# under 0.001 calls per message in both cases are counted, not listed
commandstats_table() {
    local n=$1 name names t c u m hidden=0
    # shellcheck disable=SC2046
    names=$(printf '%s\n' $(vals "one.$n.cmds") $(vals "two.$n.cmds") | sort -u)
    printf '    %-14s %31s   %31s\n' "" "one node" "two nodes"
    printf '    %-14s %10s %10s %9s   %10s %10s %9s\n' command calls/msg us/call us/msg \
        calls/msg us/call us/msg
    for name in $names; do
        if awk -v a="$(med "one.$n.cmd.$name.calls")" -v b="$(med "two.$n.cmd.$name.calls")" \
            'BEGIN {exit !(a + 0 < 0.001 && b + 0 < 0.001)}'; then
            hidden=$((hidden + 1))
            continue
        fi
        printf '    %-14s' "$name"
        for t in one two; do
            c=$(med "$t.$n.cmd.$name.calls")
            u=$(med "$t.$n.cmd.$name.usec_call")
            m=$(med "$t.$n.cmd.$name.usec_msg")
            awk -v c="$c" -v u="$u" -v m="$m" -v sep="$([ $t = one ] && echo ' ' || echo '   ')" 'BEGIN {
                if (c == "-") printf "%s%10s %10s %9s", sep, "-", "-", "-"
                else printf "%s%10.4f %10.2f %9.3f", sep, c, u, m }'
        done
        echo
    done
    echo "    ($hidden commands under 0.001 calls per message not listed; a command a"
    echo "    script runs, such as XADD in d2c_append.lua, has its own row and is also"
    echo "    inside its script's time: Redis's command time is the script rows' sum)"
}

# projection N: one node against two from the per-message CPU, on a
# machine with a core per nginx worker and one for Redis
projection() {
    local n=$1 n1 r1 n2 r2 one two sat v
    n1=$(med "one.$n.a.us"); r1=$(med "one.$n.redis_us")
    n2=$(med "two.$n.nginx_us"); r2=$(med "two.$n.redis_us")
    # the nodes' rate when their workers use a core each; Redis's at one
    # core
    one=$(min "$(awk -v r="$(per_s "$n1")" -v w="$WORKERS" 'BEGIN {print (r == "-") ? r : r * w}')" \
        "$(per_s "$r1")")
    two=$(min "$(awk -v r="$(per_s "$n2")" -v w="$WORKERS" 'BEGIN {print (r == "-") ? r : 2 * r * w}')" \
        "$(per_s "$r2")")
    echo "  PROJECTION, not a measurement: a machine with a core for every nginx worker,"
    echo "  one for Redis and the load generator elsewhere, the per-message CPU as measured here:"
    echo "    one node:  min($WORKERS x 1e6 / $n1 us, 1e6 / $r1 us) = $one msg/s"
    echo "    two nodes: min(2 x $WORKERS x 1e6 / $n2 us, 1e6 / $r2 us) = $two msg/s"
    if [ "$one" != - ] && [ "$two" != - ]; then
        v=$(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a / b}')
        echo "    projected two nodes / one node: ${v}x (issue 13: >= 1.8x until Redis saturates:" \
            "$(verdict "$v" '>=' 1.8) as a projection)"
    fi
    sat=$(awk -v a="$n2" -v b="$r2" 'BEGIN {if (b > 0) printf "%.2f", a / b}')
    echo "    Redis saturates when nginx workers busy ${sat:-?} cores in all send to it" \
        "(nginx us / Redis us per message, two-node figures)"
    # two nodes at full speed: 2 W 1e6 / n2 msg/s; Redis keeps up with
    # 1.8 W 1e6 / n1 when it costs at most n1 / (1.8 W) per message
    v=$(awk -v n="$n1" -v w="$WORKERS" 'BEGIN {if (n > 0) printf "%.2f", n / (1.8 * w)}')
    echo "    for 1.8x, Redis may cost at most ${v:-?} us per message" \
        "(one node's nginx us / (1.8 x $WORKERS workers)); it costs $r2 us with two nodes"
    if awk -v s="$sat" -v w="$WORKERS" 'BEGIN {exit !(s != "" && s < w)}'; then
        echo "    Redis saturates before one node's $WORKERS worker(s) are busy: at these costs a"
        echo "    second node on the same Redis adds no throughput, only Redis's cost per message"
        echo "    (or more Redis, see docs/performance.md) can"
    fi
}

# honesty N: what the run could show on this machine
honesty() {
    local n=$1 used need
    used=$(awk -v a="$(med "two.$n.a.cores")" -v b="$(med "two.$n.b.cores")" \
        -v r="$(med "two.$n.redis_cores")" -v l="$(med "two.$n.cpu_pct")" \
        'BEGIN {printf "%.2f", a + b + r + l / 100}')
    need=$((2 * WORKERS + 2))
    echo "  On this machine: two nodes, Redis and the load generator used $used of $CORES cores"
    echo "  (load average now: $(cut -d' ' -f1 /proc/loadavg); other processes take cores too)."
    if [ -n "$NODE_CPU" ]; then
        capped_verdict "$n" "$used"
    elif [ "$CORES" -lt "$need" ]; then
        echo "  A measured scaling needs a core per nginx worker (2 x $WORKERS), one for Redis"
        echo "  and one for the load generator: $need; this machine has $CORES, so the measured"
        echo "  ratio shows the nodes sharing the same cores, not what a second node adds."
        echo "  The per-message CPU figures and the projection from them are what holds here."
    else
        echo "  The machine has the cores for the measurement (>= $need); the measured ratio counts."
    fi
}

# capped_verdict N USED: with NODE_CPU, the measured ratio counts while
# the nodes were what limited the rate: each node used its budget, Redis
# was below one core and the machine had CPU to spare
capped_verdict() {
    local n=$1 used=$2 one a b r v ok=1
    one=$(med "one.$n.a.cores")
    a=$(med "two.$n.a.cores"); b=$(med "two.$n.b.cores"); r=$(med "two.$n.redis_cores")
    v=$(med "two.$n.ratio")
    echo "  Nodes capped at $NODE_CPU cores each (a CPU cgroup each): one node's rate is what"
    echo "  $NODE_CPU cores of nginx give, two nodes' what twice that gives on the same Redis."
    awk -v o="$one" -v a="$a" -v b="$b" -v c="$NODE_CPU" \
        'BEGIN {exit !(o >= 0.9 * c && a >= 0.9 * c && b >= 0.9 * c)}' || {
        echo "  - the nodes did not use their budget (one node $one; two nodes A $a, B $b of"
        echo "    $NODE_CPU cores): something else limited the rate"
        ok=0
    }
    awk -v r="$r" 'BEGIN {exit !(r < 0.9)}' || {
        echo "  - Redis used $r cores: saturated, the ratio shows where Redis stops, not the nodes"
        ok=0
    }
    awk -v u="$used" -v c="$CORES" 'BEGIN {exit !(u < c - 0.15)}' || {
        echo "  - the machine had no CPU to spare ($used of $CORES cores used)"
        ok=0
    }
    if [ "$ok" = 1 ]; then
        echo "  Measured two nodes / one node: ${v}x below Redis's saturation (issue 13: >= 1.8x:" \
            "$(verdict "$v" '>=' 1.8))"
    else
        echo "  Measured two nodes / one node: ${v}x, not a scaling figure (see above)"
    fi
}

echo "D2C telemetry on one node and on two nodes of one hub, one Redis: QoS $QOS, window $WINDOW"
echo "per publisher, $SIZE-byte payloads, TLS 1.3, $WORKERS worker(s) per node, $LOADGEN_PROCS load"
echo "generator processes (two nodes: half of them on each)"
[ -z "$NODE_CPU" ] || echo "each node capped at $NODE_CPU cores (CPU cgroup quota, 10 ms periods)"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per case, cases interleaved"
machine

for N in $PUBLISHERS; do
    for _ in $(seq "$RUNS"); do
        nodes_once "one.$N" a
        nodes_once "two.$N" a b
    done
    # shellcheck disable=SC2046
    set -- $(ratio_vals "two.$N.rate" "one.$N.rate")
    for v; do add "two.$N.ratio" "$v"; done

    header "D2C QoS $QOS, $N publishers, window $WINDOW, $SIZE B, $WORKERS worker(s) per node: msg/s acknowledged"
    # shellcheck disable=SC2046
    {
    row "one node" "%.0f" $(vals "one.$N.rate")
    row "two nodes" "%.0f" $(vals "two.$N.rate")
    row "ratio two nodes / one node" "%.2f" $(ratio_vals "two.$N.rate" "one.$N.rate")
    latency_rows "PUBACK latency, ms (median of runs)" 32 "" ".$N." one two
    echo "  CPU, cores of $CORES (median): one node: nginx $(med "one.$N.a.cores")" \
        "+ redis $(med "one.$N.redis_cores")," \
        "loadgen $(awk -v v="$(med "one.$N.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| two nodes: nginx A $(med "two.$N.a.cores") + nginx B $(med "two.$N.b.cores")" \
        "+ redis $(med "two.$N.redis_cores")," \
        "loadgen $(awk -v v="$(med "two.$N.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')"
    echo "  CPU per message, us (median; a node's over the messages it acknowledged):"
    row "  one node: nginx" "%.2f" $(vals "one.$N.a.us")
    row "  one node: redis" "%.2f" $(vals "one.$N.redis_us")
    row "  two nodes: nginx A" "%.2f" $(vals "two.$N.a.us")
    row "  two nodes: nginx B" "%.2f" $(vals "two.$N.b.us")
    row "  two nodes: nginx A + B" "%.2f" $(vals "two.$N.nginx_us")
    row "  two nodes: redis" "%.2f" $(vals "two.$N.redis_us")
    echo "  Redis INFO commandstats per message (median of runs):"
    commandstats_table "$N"
    echo "  messages per script call: one node $(med "one.$N.per_call"), two nodes $(med "two.$N.per_call")"
    echo "  Redis saturates (one core), msg/s = 1e6 / Redis us per message:"
    for t in one two; do
        echo "    $t node(s): $(per_s "$(med "$t.$N.redis_us")") from Redis's process CPU" \
            "($(med "$t.$N.redis_us") us), $(per_s "$(med "$t.$N.script_us")") from its" \
            "script time alone ($(med "$t.$N.script_us") us; no I/O, no event loop)"
    done
    projection "$N"
    honesty "$N"
    }
done
