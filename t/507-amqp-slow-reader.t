# An AMQP device that gives its methods receiver much credit and then does
# not read: the method requests the hub cannot write wait in Proton's
# output, which grew without bound (the 32 unanswered requests a device
# may have are forgotten oldest first, not refused). Past 1 MB of output
# waiting, a method request is dropped with a warning: the caller times out,
# as for MQTT past iothub_mqtt_send_limit. Once the device reads again,
# what was queued arrives on the same connection.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use IPC::Open2;

require_modules(qw(core http amqp));

our $N = 80;

# The device over Proton's connection engine, reading only when told:
# SASL PLAIN, the methods link pair, credit 1000 on its receiver,
# "READY", nothing read until a line on stdin; then it counts method
# requests for 5 s and prints how many came.
our $DEVICE = <<'PY';
import socket, sys, time, select
from proton import Connection, Transport, symbol
port, user, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sock.connect(('127.0.0.1', port))
conn = Connection()
conn.hostname = 'localhost'
t = Transport()
sasl = t.sasl()
sasl.allowed_mechs('PLAIN')
sasl.allow_insecure_mechs = True
conn.user, conn.password = user, token
t.bind(conn)
conn.open()
ssn = conn.session()
ssn.incoming_capacity = 1 << 30
ssn.open()
props = {symbol('com.microsoft:api-version'): '2021-04-12',
         symbol('com.microsoft:channel-correlation-id'): 'methods:t507'}
addr = '/devices/dev1/methods/devicebound'
snd = ssn.sender('ms')
snd.target.address = addr
snd.properties = props
snd.open()
rcv = ssn.receiver('mr')
rcv.source.address = addr
rcv.properties = props
rcv.open()
rcv.flow(1000)
got = 0
def pump(timeout):
    global got
    n = t.pending()
    if n > 0:
        t.pop(sock.send(t.peek(n)))
    if select.select([sock], [], [], timeout)[0]:
        data = sock.recv(max(t.capacity(), 1))
        if not data:
            raise SystemExit('closed')
        t.push(data)
    while True:
        d = rcv.current
        if d is None or d.partial:
            break
        rcv.recv(d.pending)
        rcv.advance()
        d.settle()
        got += 1
deadline = time.time() + 10
while rcv.state & rcv.REMOTE_UNINIT and time.time() < deadline:
    pump(0.1)
# the hub records the device online for methods once both links are up
settle = time.time() + 0.5
while time.time() < settle:
    pump(0.05)
print('READY', flush=True)
sys.stdin.readline()
end = time.time() + 5
while time.time() < end:
    pump(0.1)
print(got, flush=True)
PY

run_tests();

__DATA__

=== TEST 1: a device that does not read: method requests past 1 MB of output are dropped
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $pid = open2(my $out, my $in, '/usr/bin/python3', '-c', $DEVICE,
                    $AMQP_PORT, 'dev1@sas.test', device_token('dev1'));
    my $ready = <$out>;
    is($ready, "READY\n", "$t: device connected, links attached");
    my $payload = '"' . ('x' x 100000) . '"';
    my @calls = map {
        rest_start(POST => '/twins/dev1/methods?api-version=2021-04-12',
                   qq({"methodName":"m$_","responseTimeoutInSeconds":5,)
                   . qq("payload":$payload}));
    } 1 .. $N;
    select(undef, undef, undef, 1.5);
    print $in "go\n";
    close $in;
    my $got = <$out>;
    waitpid($pid, 0);
    chomp $got if defined $got;
    ok(defined $got && $got =~ /^\d+$/ && $got > 0 && $got < $N,
       "$t: some requests arrived, not all $N")
        or diag($got // 'no count');
    rest_end($_, 10) for @calls;
}]]
--- error_log
slow device, method request dropped
--- no_error_log
[crit]
