# AMQP over WebSocket (reference/README.md port 443, amqp.md 1.1, 10.1):
# subprotocol AMQPWSB10 (any case) on /$iothub/websocket and on a location
# serving /$servicebus/websocket runs the AMQP engine of port 5671.  Raw
# AMQP frames in binary WebSocket frames: the protocol header comes back
# as the client sent it (no SASL, or SASL with ANONYMOUS as the Event Hubs
# SDK does), open and close round trips end the WebSocket with 1000, a bad
# protocol header is closed with amqp:connection:framing-error, an unknown
# subprotocol is refused (400), a reload closes the WebSocket with 1001.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::WS qw(ws_closed);

require_modules(qw(core http amqp));

our $WS_CONFIG = <<'EOF';
location = /$iothub/websocket {
    iothub_websocket test;
}
location = /$servicebus/websocket {
    iothub_websocket test;
}
location / {
    iothub_api test;
}
EOF

our $AMQP_HEADER = "AMQP\x00\x01\x00\x00";
our $SASL_HEADER = "AMQP\x03\x01\x00\x00";

# An AMQP string and symbol (8-bit lengths).
sub str8 { "\xa1" . chr(length $_[0]) . $_[0] }
sub sym8 { "\xa3" . chr(length $_[0]) . $_[0] }

# A frame (type 0 AMQP, 1 SASL) on channel 0: the performative $code with
# its encoded fields (a list8, or list0 without fields).
sub frame {
    my ($type, $code, @fields) = @_;
    my $f = join '', @fields;
    my $body = "\x00\x53" . chr($code)
             . (@fields ? "\xc0" . chr(1 + length $f) . chr(scalar @fields) . $f
                        : "\x45");
    return pack('NCCn', 8 + length $body, 2, $type, 0) . $body;
}

our $OPEN = frame(0, 0x10, str8('t605'), str8('localhost'));
our $CLOSE = frame(0, 0x18);
our $SASL_INIT = frame(1, 0x41, sym8('ANONYMOUS'));

# A step: the next frame the server sends is of $type with the performative
# $code, and its body matches $re.
sub expect_frame {
    my ($type, $code, $re) = @_;
    return [perl => sub {
        my ($c, $t) = @_;
        my ($h, $st) = $c->read_bytes(8, 5);
        my ($size, $doff, $ftype) = unpack 'NCC', $h;
        my ($body, $st2) = $st eq 'ok' ? $c->read_bytes($size - 8, 5)
                                       : ('', $st);
        my $want = "\x00\x53" . chr($code);
        Test::More::ok($st2 eq 'ok' && $doff == 2 && $ftype == $type
                       && substr($body, 0, 3) eq $want
                       && $body =~ ($re // qr//),
                       "$t: frame type $type, performative $code")
            or Test::More::diag("status $st $st2, header "
                                . unpack('H*', $h // '') . ', body '
                                . unpack('H*', $body // ''));
    }];
}

run_tests();

__DATA__

=== TEST 1: /$iothub/websocket: the AMQP header comes back, open and close round trip, then 1000
--- websocket: AMQPWSB10
--- config eval: $::WS_CONFIG
--- mqtt eval
[[send => $::AMQP_HEADER],
 [expect => $::AMQP_HEADER],
 [send => $::OPEN],
 expect_frame(0, 0x10, qr/nginx-iothub/),
 [send => $::CLOSE],
 expect_frame(0, 0x18),
 ws_closed(1000)]
--- no_error_log
[error]



=== TEST 2: /$servicebus/websocket (Event Hubs SDK): SASL ANONYMOUS, then open and close
--- config eval: $::WS_CONFIG
--- mqtt eval
[[perl => sub {
    my ($c, $t) = @_;
    $c = Test::IotHub::WS::Client->new(port => $TEST_NGINX_PORT,
                                       protocol => 'amqpwsb10',
                                       path => '/$servicebus/websocket');
    ok($c, "$t: handshake") or return diag($@);
    $c->send($::SASL_HEADER);
    my ($got, $st) = $c->read_bytes(8, 5);
    is($got, $::SASL_HEADER, "$t: the SASL header comes back");
    for my $step (expect_frame(1, 0x40, qr/ANONYMOUS/),
                  [send => $::SASL_INIT],
                  expect_frame(1, 0x44, qr/^\x00\x53\x44\xc0..\x50\x00/s),
                  [send => $::AMQP_HEADER . $::OPEN],
                  [expect => $::AMQP_HEADER],
                  expect_frame(0, 0x10, qr/nginx-iothub/),
                  [send => $::CLOSE],
                  expect_frame(0, 0x18),
                  ws_closed(1000)) {
        if ($step->[0] eq 'perl') {
            $step->[1]->($c, $t);
        } elsif ($step->[0] eq 'send') {
            is($c->send($step->[1]), '', "$t: send");
        } else {
            ($got, $st) = $c->read_bytes(length $step->[1], 5);
            is($got, $step->[1], "$t: expect");
        }
    }
}]]
--- no_error_log
[error]



=== TEST 3: a protocol header that is not AMQP's: close with amqp:connection:framing-error, then the WebSocket ends
--- websocket: AMQPWSB10
--- config eval: $::WS_CONFIG
--- mqtt eval
[[send => "HTTP/1.1"],
 [expect => $::AMQP_HEADER],
 expect_frame(0, 0x10),
 expect_frame(0, 0x18, qr/amqp:connection:framing-error/),
 ws_closed(1000)]
--- no_error_log
[error]



=== TEST 4: an AMQP frame in pieces, one WebSocket frame per byte
--- websocket: AMQPWSB10
--- config eval: $::WS_CONFIG
--- mqtt eval
[[trickle => $::AMQP_HEADER . $::OPEN, 0],
 [expect => $::AMQP_HEADER],
 expect_frame(0, 0x10, qr/nginx-iothub/),
 [send => $::CLOSE],
 expect_frame(0, 0x18),
 ws_closed(1000)]
--- no_error_log
[error]



=== TEST 5: an unknown subprotocol is refused; AMQPWSB10 is offered in the client's order
--- config eval: $::WS_CONFIG
--- request eval
my $r = sub {
    {method => 'GET', path => shift, auth => 'none',
     headers => [['Upgrade', 'websocket'], ['Connection', 'Upgrade'],
                 ['Sec-WebSocket-Key', $Test::IotHub::WS::WS_KEY],
                 ['Sec-WebSocket-Version', 13],
                 ['Sec-WebSocket-Protocol', shift]]}
};
[$r->('/$iothub/websocket', 'AMQPWSB11'),
 $r->('/$servicebus/websocket', 'wamp, amqpws')]
--- error_code eval
[400, 400]
--- error_log
no subprotocol offered is served here



=== TEST 6: a reload closes an open AMQP connection over WebSocket with 1001
--- websocket: AMQPWSB10
--- config eval: $::WS_CONFIG
--- mqtt eval
[[send => $::AMQP_HEADER . $::OPEN],
 [expect => $::AMQP_HEADER],
 expect_frame(0, 0x10, qr/nginx-iothub/),
 ['hup'],
 ws_closed(1001)]
--- error_log
iothub amqp: closing connection: server shutting down
--- no_error_log
[alert]
