# shellcheck shell=bash
# Helpers shared by scripts/run.sh and t/e2e/run.sh (bash; source it).

# the policies every hub gets, in the order hub-conf.sh writes them
IOTHUB_POLICIES="iothubowner service device registryRead registryReadWrite"

# policy_var NAME primary|secondary -> name of the env var holding that key,
# e.g. iothubowner primary -> POLICY_IOTHUBOWNER_PRIMARY
policy_var() {
    printf 'POLICY_%s_%s' "${1^^}" "${2^^}"
}

# new_policy_keys: print KEY=VALUE lines with fresh keys (32 random bytes, base64)
new_policy_keys() {
    local p
    for p in $IOTHUB_POLICIES; do
        echo "$(policy_var "$p" primary)=$(openssl rand -base64 32)"
        echo "$(policy_var "$p" secondary)=$(openssl rand -base64 32)"
    done
}

# connstr HOST POLICY -> service connection string using the primary key
connstr() {
    local v
    v=$(policy_var "$2" primary)
    printf 'HostName=%s;SharedAccessKeyName=%s;SharedAccessKey=%s' "$1" "$2" "${!v}"
}

# ipv6_loopback: true if ::1 is configured (IPv6 may be disabled on some hosts)
ipv6_loopback() {
    grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

# default HTTPS listen addresses for port $1
default_listen() {
    if ipv6_loopback; then echo "127.0.0.1:$1 [::1]:$1"; else echo "127.0.0.1:$1"; fi
}

# port_in_use PORT: true if something listens on PORT (TCP, any address)
port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    else
        # no ss: try to connect on the loopback addresses
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || (exec 3<>"/dev/tcp/::1/$1") 2>/dev/null
    fi
}

# who_listens PORT: best-effort description of the listener, for error messages
who_listens() {
    command -v ss >/dev/null 2>&1 && ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /'
    return 0
}

# can_bind_low_ports: root, or unprivileged low ports allowed, or nginx has the capability
can_bind_low_ports() {
    [ "$(id -u)" -eq 0 ] && return 0
    local start
    start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
    [ "$start" -le 443 ] && return 0
    command -v getcap >/dev/null 2>&1 && getcap "${NGINX:-/usr/sbin/nginx}" 2>/dev/null | grep -q cap_net_bind_service
}

# wait_tcp HOST PORT SECONDS PID: wait until HOST:PORT accepts; fail early if PID died
wait_tcp() {
    local i=0
    while [ "$i" -lt $(($3 * 10)) ]; do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# stop_pid PID SIGNAL SECONDS: signal PID and wait for it to go (SIGKILL after SECONDS)
stop_pid() {
    local pid=$1 i=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$2" "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$i" -ge $(($3 * 10)) ]; then
            echo "process $pid did not stop after $3s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    wait "$pid" 2>/dev/null || true
}
