# Sanity checks of the harness's MQTT support (t/lib/Test/IotHub/MQTT.pm
# and the mqtt steps of Test::IotHub): frame builders against bytes worked
# out by hand from MQTT 3.1.1, device tokens against auth.md 3.2, and the
# steps against stock nginx stream servers (no iothub module needed).

use lib 't/lib';
use Test::IotHub;
use IO::Socket::INET;

# remaining length, MQTT 2.2.3 table 2.4
is(mqtt_length($_->[0]), $_->[1], "remaining length $_->[0]")
    for [0, "\x00"], [127, "\x7f"], [128, "\x80\x01"], [16383, "\xff\x7f"],
        [16384, "\x80\x80\x01"], [2097151, "\xff\xff\x7f"],
        [2097152, "\x80\x80\x80\x01"], [268435455, "\xff\xff\xff\x7f"];

is(mqtt_connect(id => 'c'),
   "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c", 'CONNECT, clean, no user');
is(mqtt_connect(id => 'd', user => 'u', password => 'p', clean => 0,
                keepalive => 300),
   "\x10\x13\x00\x04MQTT\x04\xc0\x01\x2c\x00\x01d\x00\x01u\x00\x01p",
   'CONNECT with user name and password');
is(mqtt_connect(id => 'd', level => 3),
   "\x10\x0f\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01d", 'CONNECT level 3');
is(mqtt_connect(id => 'd', will => ['t', 'm', 1, 1]),
   "\x10\x13\x00\x04MQTT\x04\x2e\x00\x3c\x00\x01d\x00\x01t\x00\x01m",
   'CONNECT with a will');
like(mqtt_connect(device => 'dev1', module => 'm1'),
     qr{^\x10..\x00\x04MQTT\x04\xc2\x00\x3c\x00\x07dev1/m1\x00\x29localhost/dev1/m1/\?api-version=2021-04-12\x00.SharedAccessSignature sr=localhost%2Fdevices%2Fdev1%2Fmodules%2Fm1&sig=}s,
     'CONNECT of a module filled in');
is(mqtt_connack(5), "\x20\x02\x00\x05", 'CONNACK 5');
is(mqtt_connack(0, 1), "\x20\x02\x01\x00", 'CONNACK 0, session present');
is(mqtt_publish(topic => 'a/b', payload => 'x'), "\x30\x06\x00\x03a/bx",
   'PUBLISH QoS 0');
is(mqtt_publish(topic => 'a/b', payload => 'x', qos => 1, id => 258,
                retain => 1, dup => 1),
   "\x3b\x08\x00\x03a/b\x01\x02x", 'PUBLISH QoS 1, dup, retain');
is(length mqtt_publish(topic => 't', payload => 'y' x 200), 2 + 1 + 2 + 1 + 200,
   'PUBLISH with a two-byte remaining length');
is(mqtt_puback(7), "\x40\x02\x00\x07", 'PUBACK');
is(mqtt_subscribe(1, ['a/b', 1], 'c'),
   "\x82\x0c\x00\x01\x00\x03a/b\x01\x00\x01c\x00", 'SUBSCRIBE');
is(mqtt_suback(1, 1, 0x80), "\x90\x04\x00\x01\x01\x80", 'SUBACK');
is(mqtt_unsubscribe(2, 'a/b'), "\xa2\x07\x00\x02\x00\x03a/b", 'UNSUBSCRIBE');
is(mqtt_unsuback(2), "\xb0\x02\x00\x02", 'UNSUBACK');
is(mqtt_pingreq() . mqtt_pingresp() . mqtt_disconnect(),
   "\xc0\x00\xd0\x00\xe0\x00", 'PINGREQ, PINGRESP, DISCONNECT');
is(mqtt_describe(mqtt_connack(5) . mqtt_suback(3, 1, 0x80) . "\x30\x05\x00"),
   "CONNACK present=0 rc=5\nSUBACK id=3 codes=0x01,0x80\nincomplete: 30 05 00",
   'describe');

# auth.md 3.2, the device example
is(device_token('dev1', host => 'myhub.example.com', expiry => 1700000000,
                key => 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='),
   'SharedAccessSignature sr=myhub.example.com%2Fdevices%2Fdev1'
   . '&sig=x59qEYvWOPCM%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI38%3D&se=1700000000',
   'device token matches auth.md');
like(put_device('d1', status => 'disabled')->{body},
     qr/^\{"deviceId":"d1","status":"disabled","authentication":\{"type":"sas","symmetricKey":\{"primaryKey":"\Q$DEVICE_KEY\E","secondaryKey":"\Q$DEVICE_KEY2\E"\}\}\}$/,
     'put_device body');

# A listener that accepts and never answers: a proxied stream stays silent.
our $SINK = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 5) or die "listen: $!";
our $SINK_PORT = $SINK->sockport;

run_tests();

__DATA__

=== TEST 1: expect bytes, a packet (qr// and CODE), closed, named connections, a perl step
--- main_config
--- config
location /x { return 204; }
--- stream_server_config
return " \nabcdefghijhello";
--- mqtt eval
[[expect => qr/^ \nabcdefghij$/],
 [expect => 'he'],
 [expect => 'llo', 1],
 [closed => 1],
 [conn => 'b'],
 [expect => sub { length $_[0] == 12 }],
 [conn => 'a'],
 [expect => " \nabcdefghijhe"],
 [perl => sub { my ($c, $t) = @_;
                is(ref $c, 'Test::IotHub::MQTT::Client', "$t: a connection");
                my ($rest, $st) = $c->read_all(1);
                is("$rest $st", 'llo eof', "$t: the rest, then closed") }],
 [conn => 'b'],
 [expect => 'hello'],
 [closed => 1]]



=== TEST 2: silent, send, trickle, a request and Redis in between
--- main_config
--- config
location /x { return 200 "ok"; }
--- stream_server_config eval
"proxy_pass 127.0.0.1:$SINK_PORT;"
--- mqtt eval
[[send => 'abc'],
 [trickle => 'def', 0.001],
 [silent => 0.3],
 [request => 'GET /x', 200, 'ok'],
 [redis => 'SET k v'],
 [redis => 'GET k', 'v'],
 [redis => [qw(MGET k nx)], ['v', undef]],
 [redis => 'GET k', qr/^v$/],
 ['close']]



=== TEST 3: two nodes with the same configuration, addressed by number
--- main_config
--- nodes: 2
--- config
location /n { return 200 "$TEST_NODE"; }
--- stream_server_config
return "node $TEST_NODE";
--- mqtt eval
[[conn => 'one', 1],
 [expect => 'node 1'],
 [conn => 'two', 2],
 [expect => 'node 2'],
 [closed => 1],
 [request => {method => 'GET', path => '/n', node => 2}, 200, '2'],
 [request => 'GET /n', 200, '1']]



=== TEST 4: stream_request and stream_response
--- main_config
--- config
location /x { return 204; }
--- stream_server_config
return "pong";
--- stream_request: ping
--- stream_response: pong



=== TEST 5: d2c messages read back from the partition streams, oldest first
--- main_config
--- config
location /x { return 204; }
--- redis
XADD iothub:test:d2c:1 1-1 a:x 2 body second
XADD iothub:test:d2c:0 1-0 a:x 1 body first
--- stream_server_config
return "";
--- request
GET /x
--- error_code: 204
--- mqtt eval
[[d2c => [{_fields => [qw(a:x body)], 'a:x' => 1, body => 'first',
           _stream => 'iothub:test:d2c:0'},
          {'a:x' => qr/^2$/, body => 'second', 'u:y' => undef}]]]
