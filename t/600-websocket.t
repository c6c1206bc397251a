# MQTT over WebSocket (reference/README.md port 443, mqtt.md 1): the
# opening handshake of /$iothub/websocket (RFC 6455 4: 400 for a bad
# handshake, 426 for another version, the subprotocol echoed as the client
# spelled it), the MQTT engine behind it (CONNECT, telemetry, C2D, twin),
# framing (fragments, a CONNECT split over many frames, ping/pong) and the
# close codes: 1002 for an unmasked or malformed frame, 1003 for text, 1009
# over iothub_websocket_max_packet_size, the client's code echoed.  The
# connections of a block with "--- websocket: mqtt" speak WebSocket
# (t/lib/Test/IotHub/WS.pm).

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::WS qw(ws_frame ws_close ws_accept ws_closed ws_control
                        $WS_KEY);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $WS_CONFIG = <<'EOF';
location = /$iothub/websocket {
    iothub_websocket test;
}
location / {
    iothub_api test;
}
EOF

# A handshake request: ws_request(header => value or undef to leave out).
sub ws_request {
    my %h = ('Upgrade' => 'websocket', 'Connection' => 'Upgrade',
             'Sec-WebSocket-Key' => $WS_KEY, 'Sec-WebSocket-Version' => 13,
             'Sec-WebSocket-Protocol' => 'mqtt', @_);
    my $method = delete $h{method} // 'GET';
    return {method => $method, path => '/$iothub/websocket', auth => 'none',
            headers => [map { [$_, $h{$_}] } grep { defined $h{$_} }
                        sort keys %h]};
}

# The steps of a telemetry message and its PUBACK.
sub telemetry {
    my ($id, $body) = @_;
    return ([send => mqtt_publish(topic => 'devices/dev1/messages/events/k=v',
                                  qos => 1, id => $id, payload => $body)],
            [expect => mqtt_puback($id)]);
}

# A step sending bytes as they are (crafted frames).
sub raw {
    my $bytes = shift;
    return [perl => sub { my ($c, $t) = @_;
                          my $e = $c->send_raw($bytes);
                          Test::More::fail("$t: $e") if $e }];
}

run_tests();

__DATA__

=== TEST 1: handshake errors: 400 for a bad handshake, 426 for another version
--- config eval: $::WS_CONFIG
--- request eval
[ws_request('Sec-WebSocket-Key' => undef),
 ws_request('Sec-WebSocket-Key' => 'c2hvcnQ='),
 ws_request('Sec-WebSocket-Version' => 8),
 ws_request('Sec-WebSocket-Version' => undef),
 ws_request('Sec-WebSocket-Protocol' => undef),
 ws_request('Sec-WebSocket-Protocol' => 'AMQPWSB11, wamp'),
 ws_request('Sec-WebSocket-Protocol' => 'mqtt;v=1'),
 ws_request('Upgrade' => undef),
 ws_request('Connection' => 'keep-alive'),
 ws_request(method => 'POST')]
--- error_code eval
[400, 400, 426, 400, 400, 400, 400, 400, 400, 405]
--- response_headers eval
[{}, {}, {'Sec-WebSocket-Version' => 13}, {}, {}, {}, {}, {}, {}, {}]
--- error_log
no Sec-WebSocket-Key
iothub websocket: version "8" not supported
no Sec-WebSocket-Protocol
no subprotocol offered is served here
malformed Sec-WebSocket-Protocol "mqtt;v=1"
invalid Sec-WebSocket-Key "c2hvcnQ="
no "Upgrade: websocket"
no "Connection: Upgrade"
method POST instead of GET



=== TEST 2: the subprotocol is echoed as the client spelled it (C SDK: MQTT)
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = Test::IotHub::WS::Client->new(port => $TEST_NGINX_PORT,
                                          protocol => 'wamp, MQTT');
    ok($c, "$t: handshake") or return diag($@);
    is(ws_accept($WS_KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', "$t: accept key");
    $c->send(mqtt_connect(device => 'dev1'));
    my ($got, $st) = $c->read_bytes(4, 5);
    is($got, mqtt_connack(0), "$t: CONNACK");
 }]]
--- no_error_log
[error]



=== TEST 3: CONNECT, telemetry stored with its properties, PINGREQ
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 telemetry(7, 'hi'),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [d2c => [{'u:k' => 'v', body => 'hi'}]],
 [request => "GET /devices/dev1?$::V", 200, qr/"connectionState":"Connected"/]]
--- no_error_log
[error]



=== TEST 4: a CONNECT split over one frame per byte, then a message in fragments with a ping between them
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
my $pub = mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1,
                       id => 9, payload => 'fragmented');
[[trickle => sub { mqtt_connect(device => 'dev1') }, 0],
 [expect => mqtt_connack(0)],
 raw(ws_frame(fin => 0, payload => substr($pub, 0, 5))
     . ws_frame(op => 9, payload => 'are you there')),
 ws_control(10, 'are you there'),
 raw(ws_frame(op => 0, fin => 0, payload => substr($pub, 5, 7))
     . ws_frame(op => 0, fin => 1, payload => substr($pub, 12))),
 [expect => mqtt_puback(9)],
 [d2c => [{body => 'fragmented'}]]]
--- no_error_log
[error]



=== TEST 5: two MQTT packets in one frame, and an empty frame
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 raw(ws_frame(payload => '')
     . ws_frame(payload => mqtt_pingreq() . mqtt_pingreq())),
 [expect => mqtt_pingresp() . mqtt_pingresp()]]
--- no_error_log
[error]



=== TEST 6: cloud-to-device over WebSocket: PUBLISH, PUBACK completes it
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ['devices/dev1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 1)],
 [request => {method => 'POST', path => "/devices/dev1/messages/devicebound?$::V",
              body => 'on'}, 204],
 [expect => mqtt_publish(topic => 'devices/dev1/messages/devicebound/'
                         . '%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound'
                         . '&iothub-ack=none', qos => 1, id => 1,
                         payload => 'on')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]
--- no_error_log
[error]



=== TEST 7: twin GET and a reported patch over WebSocket
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, '$iothub/twin/res/#')],
 [expect => mqtt_suback(1, 0)],
 [send => mqtt_publish(topic => '$iothub/twin/GET/?$rid=1', payload => ' ')],
 [expect => mqtt_publish(topic => '$iothub/twin/res/200/?$rid=1',
   payload => '{"desired":{"$version":1},"reported":{"$version":1}}')],
 [send => mqtt_publish(topic => '$iothub/twin/PATCH/properties/reported/?$rid=2',
                       payload => '{"fw":"1.0"}')],
 [expect => mqtt_publish(topic => '$iothub/twin/res/204/?$rid=2&$version=2')]]
--- no_error_log
[error]



=== TEST 8: an unmasked frame closes with 1002
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 raw(ws_frame(mask => 0, payload => mqtt_pingreq())),
 ws_closed(1002),
 [request => "GET /devices/dev1?$::V", 200,
  qr/"connectionState":"Disconnected"/, 3]]
--- error_log
iothub websocket: unmasked frame, closing with 1002



=== TEST 9: reserved bits, a lone continuation, a long ping: 1002; text: 1003
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- mqtt eval
[[conn => 'a'],
 raw(ws_frame(rsv => 4, payload => 'x')),
 ws_closed(1002),
 [conn => 'b'],
 raw(ws_frame(op => 0, payload => 'x')),
 ws_closed(1002),
 [conn => 'c'],
 raw(ws_frame(op => 9, payload => 'p' x 126)),
 ws_closed(1002),
 [conn => 'd'],
 raw(ws_frame(op => 1, payload => 'text')),
 ws_closed(1003)]
--- error_log
reserved bits set, closing with 1002
continuation frame without a message, closing with 1002
control frame over 125 bytes, closing with 1002
text frame, closing with 1003



=== TEST 10: a frame over iothub_websocket_max_packet_size closes with 1009 on its header
--- websocket: mqtt
--- config
location = /$iothub/websocket {
    iothub_websocket test;
    iothub_websocket_max_packet_size 1k;
}
location / {
    iothub_api test;
}
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 raw(substr(ws_frame(payload => 'x' x 1025), 0, 8)),
 ws_closed(1009)]
--- error_log
frame too big, closing with 1009



=== TEST 11: the client's close: its code echoed, the session ends and its will is sent
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1',
              will => ['devices/dev1/messages/events/', 'gone', 1, 0]}],
 raw(ws_close(4001, 'bye')),
 ws_closed(4001),
 [request => "GET /devices/dev1?$::V", 200,
  qr/"connectionState":"Disconnected"/, 3],
 [d2c => [{body => 'gone', 'u:iothub-MessageType' => 'Will'}], 3]]
--- error_log
iothub websocket: client closed, code 4001



=== TEST 12: an empty close is answered with an empty close; MQTT DISCONNECT closes with 1000
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[conn => 'a'],
 raw(ws_frame(op => 8)),
 ws_closed(1005),
 [conn => 'b'],
 [connect => 'dev1'],
 [send => mqtt_disconnect()],
 ws_closed(1000)]
--- no_error_log
[error]



=== TEST 13: a refused CONNECT: CONNACK 5, then close 1000
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- mqtt eval
[[connect => 'nobody', mqtt_connack(5)],
 ws_closed(1000)]
--- no_error_log
[error]



=== TEST 14: bytes sent with the handshake, before the 101, are read
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $TEST_NGINX_PORT) or die $!;
    print $s "GET /\$iothub/websocket HTTP/1.1\r\nHost: localhost\r\n"
           . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           . "Sec-WebSocket-Key: $WS_KEY\r\nSec-WebSocket-Version: 13\r\n"
           . "Sec-WebSocket-Protocol: mqtt\r\n\r\n"
           . ws_frame(payload => mqtt_connect(device => 'dev1'));
    my $want = "\x82\x04" . mqtt_connack(0);
    my ($got, $sel) = ('', IO::Select->new($s));
    while ($got !~ /\r\n\r\n\Q$want\E$/ && $sel->can_read(5)) {
        last unless sysread($s, $got, 4096, length $got);
    }
    like($got, qr{^HTTP/1\.1 101 Switching Protocols\r\n.*\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n\Q$want\E$}s,
         "$t: 101 and CONNACK");
 }]]
--- no_error_log
[error]



=== TEST 15: directives: bad values fail nginx -t naming the directive
--- config
location = /$iothub/websocket {
    iothub_websocket test;
    iothub_websocket_max_packet_size 512;
}
--- must_die
--- error_log
"iothub_websocket_max_packet_size" must be from 1k to 268435455



=== TEST 16: directives: a send limit under the packet size
--- config
location = /$iothub/websocket {
    iothub_websocket test;
    iothub_websocket_max_packet_size 64k;
    iothub_websocket_send_limit 32k;
}
--- must_die
--- error_log
"iothub_websocket_send_limit" must be at least "iothub_websocket_max_packet_size"



=== TEST 17: directives: an unknown hub
--- config
location = /$iothub/websocket {
    iothub_websocket nosuch;
}
--- must_die
--- error_log
unknown hub "nosuch" in "iothub_websocket" directive



=== TEST 18: a reload closes a WebSocket device with 1001 and keeps its will
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1',
              will => ['devices/dev1/messages/events/', 'gone', 1, 0]}],
 ['hup'],
 ws_closed(1001)]
--- redis_check eval
[[['KEYS', 'iothub:test:d2c:*'], []]]
--- error_log
iothub mqtt: server shutting down



=== TEST 19: back-pressure: with 64 messages waiting for Redis the socket is not read (a ping waits), then it is
--- websocket: mqtt
--- config eval: $::WS_CONFIG
--- request eval
put_device('dev1')
--- mqtt eval
my $pubs = join '', map { mqtt_publish(topic => 'devices/dev1/messages/events/',
                                       qos => 1, id => $_, payload => "m$_") } 1 .. 64;
[[connect => 'dev1'],
 [redis => 'CLIENT PAUSE 1500 WRITE'],
 [send => $pubs],
 [sleep => 0.3],
 raw(ws_frame(op => 9, payload => 'still there?')),
 [perl => sub {
    my ($c, $t) = @_;
    $c->read_all(0.4);
    is(scalar @{$c->{control}}, 0, "$t: no pong while reading is paused");
    $c->{buf} = '';
 }],
 ws_control(10, 'still there?', 5),
 [expect => join('', map { mqtt_puback($_) } 1 .. 64)],
 [d2c => [map { +{body => "m$_"} } 1 .. 64], 3]]
--- no_error_log
[error]
