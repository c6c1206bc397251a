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

# urlencode STRING: percent-encode everything but RFC 3986 unreserved characters
urlencode() {
    local s=$1 out="" c i
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# sas_token RESOURCE KEY [POLICY] [TTL]: an IoT Hub SAS token for RESOURCE
# (e.g. "localhost" for a policy, "localhost/devices/d1" for a device),
# signed with the base64 KEY, valid TTL seconds (default 3600). With POLICY
# it carries skn= (a policy token). Same layout as the SDKs: sr, sig, skn, se.
sas_token() {
    local sr se hexkey sig
    sr=$(urlencode "$1")
    se=$(($(date +%s) + ${4:-3600}))
    hexkey=$(printf '%s' "$2" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
    sig=$(printf '%s\n%s' "$sr" "$se" |
        openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | openssl base64 -A)
    printf 'SharedAccessSignature sr=%s&sig=%s%s&se=%s' \
        "$sr" "$(urlencode "$sig")" "${3:+&skn=$3}" "$se"
}

# hub_request CA HOST METHOD PATH AUTHORIZATION [JSON]: one HTTPS request to
# HOST:443, trusting CA. Prints the status code on the first line, then the
# body. Uses curl when installed, else openssl s_client (always there).
hub_request() {
    local ca=$1 host=$2 method=$3 path=$4 auth=$5 body=${6:-} out
    if command -v curl >/dev/null 2>&1; then
        out=$(curl -sS --max-time 10 --cacert "$ca" -X "$method" \
            -H "Authorization: $auth" -H 'Content-Type: application/json' \
            ${body:+--data-binary "$body"} -w '\n%{http_code}' \
            "https://$host$path") || return 1
        printf '%s\n%s\n' "${out##*$'\n'}" "${out%$'\n'*}"
    else
        out=$(printf '%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
                "$method" "$path" "$host" "$auth" "${#body}" "$body" |
            timeout 10 openssl s_client -quiet -verify_return_error -CAfile "$ca" \
                -servername "$host" -connect "$host:443" 2>/dev/null | tr -d '\r') || return 1
        [ -n "$out" ] || return 1
        # "HTTP/1.1 200 OK" ... blank line ... body
        printf '%s\n' "$out" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p'
        printf '%s\n' "$out" | sed '1,/^$/d'
    fi
}

# json_string FIELD: the first "FIELD":"value" of the JSON on stdin (flat
# string values without escapes, such as keys and ids)
json_string() {
    sed -n "s/.*\"$1\" *: *\"\\([^\"\\\\]*\\)\".*/\\1/p" | head -n 1
}
