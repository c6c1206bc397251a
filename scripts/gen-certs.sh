#!/bin/sh
# Test PKI for nginx-iothub (openssl CLI only, EC P-256 everywhere).
#
#   scripts/gen-certs.sh DIR                      CA + server cert for localhost
#   scripts/gen-certs.sh DIR device <deviceId>    DIR/device-<id>.crt/.key, CN=<id>, signed by the CA
#   scripts/gen-certs.sh DIR selfsigned <deviceId> DIR/selfsigned-<id>.crt/.key, CN=<id>, self-signed
#
# Files that already exist are kept (idempotent). The device forms print the
# certificate's SHA-1 thumbprint (upper-case hex, no colons) on stdout: that is
# what goes into authentication.x509Thumbprint for a selfSigned device.
set -eu

usage() {
    echo "usage: $0 DIR [device|selfsigned <deviceId>]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
DIR=$1
CMD=${2:-}
mkdir -p "$DIR"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

CA_DAYS=3650
LEAF_DAYS=825

newkey() {  # newkey FILE (mode 0600)
    (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
}

serial() {  # random positive 120-bit serial, so re-issued certs never collide
    echo "0x$(openssl rand -hex 15)"
}

thumbprint() {  # thumbprint CRT -> SHA-1, upper-case hex, no colons
    openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/^[^=]*=//; s/://g' | tr a-f A-F
}

# sign CSR OUT EXTFILE: issue a leaf certificate from the test CA
sign() {
    openssl x509 -req -in "$1" -out "$2" -days "$LEAF_DAYS" -sha256 \
        -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -set_serial "$(serial)" \
        -extfile "$3" 2>/dev/null
}

ensure_ca() {
    if [ -s "$DIR/ca.crt" ] && [ -s "$DIR/ca.key" ]; then
        return 0
    fi
    echo "gen-certs: creating test CA in $DIR" >&2
    newkey "$DIR/ca.key"
    openssl req -new -x509 -key "$DIR/ca.key" -out "$DIR/ca.crt" -days "$CA_DAYS" -sha256 \
        -subj "/CN=nginx-iothub test CA" -set_serial "$(serial)" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
    # a new CA invalidates everything it signed before
    rm -f "$DIR/server.crt" "$DIR/server.key" "$DIR"/device-*.crt "$DIR"/device-*.key
}

ensure_server() {
    if [ -s "$DIR/server.crt" ] && [ -s "$DIR/server.key" ]; then
        return 0
    fi
    echo "gen-certs: creating server certificate for localhost in $DIR" >&2
    newkey "$DIR/server.key"
    openssl req -new -key "$DIR/server.key" -out "$TMP/server.csr" -subj "/CN=localhost"
    cat > "$TMP/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
EOF
    sign "$TMP/server.csr" "$DIR/server.crt" "$TMP/server.ext"
}

# device certificates: CN = device id, client authentication only
CLIENT_EXT='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth'

issue_device() {  # issue_device ID
    crt="$DIR/device-$1.crt" key="$DIR/device-$1.key"
    if ! [ -s "$crt" ] || ! [ -s "$key" ]; then
        newkey "$key"
        openssl req -new -key "$key" -out "$TMP/dev.csr" -subj "/CN=$1"
        printf '%s\nauthorityKeyIdentifier = keyid\n' "$CLIENT_EXT" > "$TMP/dev.ext"
        sign "$TMP/dev.csr" "$crt" "$TMP/dev.ext"
    fi
    thumbprint "$crt"
}

issue_selfsigned() {  # issue_selfsigned ID
    crt="$DIR/selfsigned-$1.crt" key="$DIR/selfsigned-$1.key"
    if ! [ -s "$crt" ] || ! [ -s "$key" ]; then
        newkey "$key"
        printf '[req]\ndistinguished_name = dn\n[dn]\n[ext]\n%s\n' "$CLIENT_EXT" > "$TMP/ss.cnf"
        openssl req -new -x509 -key "$key" -out "$crt" -days "$LEAF_DAYS" -sha256 \
            -subj "/CN=$1" -set_serial "$(serial)" -config "$TMP/ss.cnf" -extensions ext
    fi
    thumbprint "$crt"
}

check_id() {
    [ -n "${1:-}" ] || usage
    case $1 in
        */*|.*) echo "gen-certs: unusable device id for a file name: $1" >&2; exit 2 ;;
    esac
}

case $CMD in
    "")         ensure_ca; ensure_server ;;
    device)     check_id "${3:-}"; ensure_ca; issue_device "$3" ;;
    selfsigned) check_id "${3:-}"; issue_selfsigned "$3" ;;
    *)          usage ;;
esac
