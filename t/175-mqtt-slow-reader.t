# A TLS client that reads slowly while the hub's output for it grows: the
# output buffer moves while OpenSSL waits to finish a write, and OpenSSL
# must take the retry from the new place (SSL_MODE_ACCEPT_MOVING_WRITE_
# BUFFER). Without it the write failed ("bad write retry", [crit]) and the
# connection of a device that was only slow ended. Method requests of
# 100 KB each queue up while the device does not read; once it reads, all
# of them arrive on the same connection.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::X509;
use Test::IotHub::AMQP qw(rest_start rest_end);
use IPC::Open2;

require_modules(qw(core http mqtt));

our $PKI = x509_pki('slow-reader');
our $TLS_PORT = (node_port(2))[1];
our $N = 60;

# The device: TLS with a small receive buffer, CONNECT and SUBSCRIBE from
# argv (hex), "READY", then reads nothing until a line on stdin; then it
# counts method requests until it has $N or 15 s passed, and prints it.
our $DEVICE = <<'PY';
import socket, ssl, sys, time
port, connect, subscribe, want = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), int(sys.argv[4])
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(('127.0.0.1', port))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(raw)
s.sendall(connect + subscribe)
buf = b''
while buf.count(b'\x90') < 1:
    buf += s.recv(100)
print('READY', flush=True)
sys.stdin.readline()
s.settimeout(1)
deadline = time.time() + 15
data = b''
while data.count(b'$iothub/methods/POST/m') < want and time.time() < deadline:
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    if not d:
        break
    data += d
print(data.count(b'$iothub/methods/POST/m'), flush=True)
PY

run_tests();

__DATA__

=== TEST 1: a slow reader gets every method request of a growing output
--- stream_config eval
"server { listen 127.0.0.1:$TLS_PORT ssl; ssl_certificate $PKI/server.crt; ssl_certificate_key $PKI/server.key; iothub_mqtt test; iothub_mqtt_send_limit 16m; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $pid = open2(my $out, my $in, '/usr/bin/python3', '-c', $DEVICE, $TLS_PORT,
                    unpack('H*', mqtt_connect(device => 'dev1')),
                    unpack('H*', mqtt_subscribe(1, '$iothub/methods/POST/#')),
                    $N);
    my $ready = <$out>;
    is($ready, "READY\n", "$t: device connected and subscribed");
    my $payload = '"' . ('x' x 100000) . '"';
    my @calls = map {
        rest_start(POST => '/twins/dev1/methods?api-version=2021-04-12',
                   qq({"methodName":"m$_","responseTimeoutInSeconds":5,)
                   . qq("payload":$payload}));
    } 1 .. $N;
    select(undef, undef, undef, 1);
    print $in "go\n";
    close $in;
    my $got = <$out>;
    waitpid($pid, 0);
    chomp $got if defined $got;
    is($got, $N, "$t: all $N method requests arrived");
    rest_end($_, 10) for @calls;
}]]
--- no_error_log
bad write retry
[crit]
