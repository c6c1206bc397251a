# MQTT telemetry (reference/mqtt.md 4 and 11, messaging.md 2): QoS 0 and 1
# into the partition streams iothub:test:d2c:<n>, the property bag, module
# telemetry, PUBACK only after the XADD and in order, the size limits,
# protocol violations and malformed packets (closed), a packet in 1-byte
# writes, and Redis going down while a device publishes.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $EV = 'devices/dev1/messages/events/';
our $AUTH_SAS = '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}';
our @STAMPS = qw(a:iothub-connection-device-id
                 a:iothub-connection-auth-generation-id
                 a:iothub-connection-auth-method a:iothub-enqueuedtime
                 a:iothub-message-source);

sub pub { mqtt_publish(topic => $EV . (shift // ''), @_) }

# A CONNECT, one packet that breaks the rules, and the server closes.
sub violation {
    my ($bytes, $who) = @_;
    return ([connect => $who // 'dev1'], [send => $bytes], [closed => 2]);
}

# The body of a CONNECT (what follows its fixed header).
sub connect_body {
    my $p = mqtt_connect(@_);
    my $i = 1;
    $i++ while ord(substr $p, $i, 1) & 0x80;
    return substr $p, $i + 1;
}

# The PUBACK packet ids in a byte string of PUBACKs.
sub puback_ids {
    my $s = shift;
    my @ids;
    while ($s =~ s/\A\x40\x02(..)//s) { push @ids, unpack 'n', $1 }
    return length $s ? undef : \@ids;
}

our @ACKED;

run_tests();

__DATA__

=== TEST 1: QoS 1 with a full property bag: PUBACK, then one stream entry with every field
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('%24.mid=m-42&%24.cid=c%2F1&%24.ct=application%2Fjson'
              . '&%24.ce=utf-8&$.uid=u1&%24.to=%2Fdevices%2Fx'
              . '&%24.exp=2030-01-01T00%3A00%3A00Z&alert=high'
              . '&na%20me=va%26lu%3De&plus=a%2Bb%20c&empty=&nullprop'
              . '&%C3%A9t%C3%A9=%E2%82%AC&%24.unknown=1&%24.cdid=evil'
              . '&iothub-connection-device-id=spoof',
              qos => 1, id => 1, payload => '{"temp":21.5}')],
 [expect => mqtt_puback(1)],
 [d2c => [{_fields => [@STAMPS, qw(p:message-id p:correlation-id
                                   p:content-type p:content-encoding
                                   p:user-id p:to p:absolute-expiry-time
                                   u:alert), 'u:na me',
                       qw(u:plus u:empty u:nullprop), "u:\xc3\xa9t\xc3\xa9",
                       'body'],
           'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-auth-generation-id' => qr/^\d{18}$/,
           'a:iothub-connection-auth-method' => $AUTH_SAS,
           'a:iothub-enqueuedtime' => qr/^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
           'a:iothub-message-source' => 'Telemetry',
           'p:message-id' => 'm-42', 'p:correlation-id' => 'c/1',
           'p:content-type' => 'application/json',
           'p:content-encoding' => 'utf-8', 'p:user-id' => 'u1',
           'p:to' => '/devices/x',
           'p:absolute-expiry-time' => '2030-01-01T00:00:00Z',
           'u:alert' => 'high', 'u:na me' => 'va&lu=e', 'u:plus' => 'a+b c',
           'u:empty' => '', 'u:nullprop' => '', "u:\xc3\xa9t\xc3\xa9" => "\xe2\x82\xac",
           'u:iothub-connection-device-id' => undef,
           'u:mqtt-retain' => undef, body => '{"temp":21.5}'}]],
 [perl => sub {   # the stamped generation id is the device's
     my (undef, $t) = @_;
     is(d2c_messages()->[0]{'a:iothub-connection-auth-generation-id'},
        redis_cmd(qw(HGET iothub:test:{dev1}:device generationId)),
        "$t: generation id stamped");
 }]]
--- no_error_log
[error]



=== TEST 2: QoS 0 with system properties given literally ($.ct) and retain: mqtt-retain
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('$.ct=text%2Fplain&$.mid=q0&k=v', payload => 'hello', retain => 1)],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [d2c => [{_fields => [@STAMPS, qw(p:content-type p:message-id u:k
                                   u:mqtt-retain body)],
           'p:content-type' => 'text/plain', 'p:message-id' => 'q0',
           'u:k' => 'v', 'u:mqtt-retain' => 'true', body => 'hello'}], 2]]



=== TEST 3: events topic without a bag, with an empty bag, DUP on QoS 1; empty payloads
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_publish(topic => 'devices/dev1/messages/events', qos => 1, id => 1)],
 [expect => mqtt_puback(1)],
 [send => pub('', qos => 1, id => 2, dup => 1, payload => '')],
 [expect => mqtt_puback(2)],
 [send => pub('a=1/', qos => 1, id => 3, payload => "\x00\xff")],
 [expect => mqtt_puback(3)],
 [d2c => [{_fields => [@STAMPS, 'body'], body => ''},
          {_fields => [@STAMPS, 'body'], body => ''},
          {'u:a' => '1', body => "\x00\xff"}]]]



=== TEST 4: module telemetry, Node's output form with a trailing "/", same partition as the device
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('n=1', qos => 1, id => 1, payload => 'device')],
 [expect => mqtt_puback(1)],
 [conn => 'm'],
 [connect => {device => 'dev1', module => 'm1'}],
 [send => mqtt_publish(topic => 'devices/dev1/modules/m1/messages/events/%24.on=out1&a=b/',
                       qos => 1, id => 7, payload => 'module')],
 [expect => mqtt_puback(7)],
 [send => mqtt_publish(topic => 'devices/dev1/modules/m1/messages/events/',
                       qos => 1, id => 8)],
 [expect => mqtt_puback(8)],
 [d2c => [{'a:iothub-connection-module-id' => undef, body => 'device'},
          {_fields => ['a:iothub-connection-device-id',
                       'a:iothub-connection-module-id', @STAMPS[1 .. 4],
                       qw(u:iothub-outputname u:a body)],
           'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-module-id' => 'm1',
           'a:iothub-connection-auth-method' =>
               '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
           'u:iothub-outputname' => 'out1', 'u:a' => 'b', body => 'module'},
          {'a:iothub-connection-module-id' => 'm1', body => ''}]],
 [redis => 'EVAL "return #redis.call(\'KEYS\', \'iothub:test:d2c:*\')" 0', 1]]



=== TEST 5: a policy token stamps the auth method with scope "hub"
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', password => sas_token(policy => 'device')}],
 [send => pub('', qos => 1, id => 1)],
 [expect => mqtt_puback(1)],
 [d2c => [{'a:iothub-connection-auth-method' =>
               qr/^\{"scope":"hub","type":"sas","issuer":"iothub","acceptingIpFilterRule":null\}$/}]]]



=== TEST 6: a percent-encoded device id in the topic (Python) names the device
--- request eval
put_device('py:1')
--- mqtt eval
[[connect => 'py:1'],
 [send => mqtt_publish(topic => 'devices/py%3A1/messages/events/', qos => 1, id => 1)],
 [expect => mqtt_puback(1)],
 [send => mqtt_publish(topic => 'devices/py:1/messages/events/', qos => 1, id => 2)],
 [expect => mqtt_puback(2)],
 [d2c => [({'a:iothub-connection-device-id' => 'py:1'}) x 2]]]



=== TEST 7: 20 pipelined QoS 1 publishes: 20 PUBACKs in order, 20 entries in order
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => join '', map { pub("n=$_", qos => 1, id => $_, payload => "m$_") } 1 .. 20],
 [expect => join '', map { mqtt_puback($_) } 1 .. 20],
 [d2c => [map { +{'u:n' => $_, body => "m$_"} } 1 .. 20]]]



=== TEST 8: PUBACK comes only after the message is stored (Redis paused: no PUBACK yet)
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [redis => 'CLIENT PAUSE 700 WRITE'],
 [send => pub('', qos => 1, id => 9, payload => 'late')],
 [silent => 0.4],
 [expect => mqtt_puback(9), 3],
 [d2c => [{body => 'late'}]]]



=== TEST 9: 256 KB payload accepted, 256 KB + 1 closes the connection, nothing stored
--- stream_server_config
iothub_mqtt test;
iothub_mqtt_max_packet_size 1m;
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('', qos => 1, id => 1, payload => 'x' x 262144)],
 [expect => mqtt_puback(1)],
 [send => pub('', qos => 1, id => 2, payload => 'y' x 262145)],
 [closed => 3],
 [d2c => [{body => 'x' x 262144}]]]
--- error_log
message of 262145 bytes over the 256 KB limit



=== TEST 10: a packet over iothub_mqtt_max_packet_size: closed on its fixed header
--- stream_server_config
iothub_mqtt test;
iothub_mqtt_max_packet_size 1k;
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('', payload => 'z' x 900)],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [send => substr(pub('', payload => 'z' x 2000), 0, 40)],
 [closed => 2],
 [d2c => [{body => 'z' x 900}]]]
--- error_log
iothub mqtt: packet too large



=== TEST 11: publish to another device's or identity's topic: closed, nothing stored
--- request eval
[put_device('dev1'), put_device('dev2'), put_module('dev1', 'm1')]
--- mqtt eval
[violation(mqtt_publish(topic => 'devices/dev2/messages/events/', qos => 1, id => 1)),
 violation(mqtt_publish(topic => 'devices/dev1/modules/m1/messages/events/', qos => 1, id => 1)),
 violation(mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1, id => 1),
           {device => 'dev1', module => 'm1'}),
 violation(mqtt_publish(topic => 'devices/dev1/modules/m2/messages/events/', qos => 1, id => 1),
           {device => 'dev1', module => 'm1'}),
 [d2c => []]]
--- error_log
PUBLISH to another identity's topic "devices/dev2/messages/events/"
PUBLISH to another identity's topic "devices/dev1/modules/m1/messages/events/"



=== TEST 12: publish to topics IoT Hub does not have: closed
--- request eval
put_device('dev1')
--- mqtt eval
[violation(mqtt_publish(topic => 'devices/dev1/messages/devicebound/x')),
 violation(mqtt_publish(topic => 'devices/dev1/messages/eventsx/')),
 violation(mqtt_publish(topic => 'devices//messages/events/')),
 violation(mqtt_publish(topic => 'foo/bar')),
 violation(mqtt_publish(topic => '$iothub/nothing/?$rid=1')),
 [d2c => []]]
--- error_log
PUBLISH to unknown topic "devices/dev1/messages/devicebound/x"
PUBLISH to unknown topic "foo/bar"



=== TEST 13: malformed property bags: closed, nothing stored; empty pairs are skipped
--- request eval
put_device('dev1')
--- mqtt eval
[violation(pub('a=%zz', qos => 1, id => 1)),        # bad escape
 violation(pub('a=%2', qos => 1, id => 1)),         # cut escape
 violation(pub('=v', qos => 1, id => 1)),           # empty name
 violation(pub('a=%C3%28', qos => 1, id => 1)),     # decoded value not UTF-8
 violation(pub('%00=1', qos => 1, id => 1)),        # decoded NUL
 [d2c => []],
 [connect => 'dev1'],
 [send => pub('&a=1&&b=2&', qos => 1, id => 2)],
 [expect => mqtt_puback(2)],
 [d2c => [{_fields => [@STAMPS, qw(u:a u:b body)], 'u:a' => 1, 'u:b' => 2}]]]
--- error_log
iothub mqtt: property bag:



=== TEST 14: QoS 2 publish and the QoS 2 acks: closed
--- request eval
put_device('dev1')
--- mqtt eval
[violation(pub('', qos => 2, id => 1)),
 violation(mqtt_packet(0x50, pack 'n', 1)),
 violation(mqtt_packet(0x62, pack 'n', 1)),
 violation(mqtt_packet(0x70, pack 'n', 1)),
 [d2c => []]]
--- error_log
QoS 2 PUBLISH refused
QoS 2 packet type 5 refused



=== TEST 15: malformed packets after CONNECT: closed
--- request eval
put_device('dev1')
--- mqtt eval
[violation("\x30\xff\xff\xff\xff\x01"),                 # 5-byte remaining length
 violation("\x00\x00"),                                  # reserved type 0
 violation("\xf0\x00"),                                  # reserved type 15
 violation("\xc1\x00"),                                  # PINGREQ, flags 1
 violation(mqtt_packet(0x80, "\x00\x01" . mqtt_string('$iothub/twin/res/#') . "\x00")),  # SUBSCRIBE flags 0
 violation("\xc0\x01\x00"),                              # PINGREQ with a body
 violation(mqtt_packet(0x36, mqtt_string($EV) . "\x00\x01")),   # QoS 3
 violation(pub('', dup => 1)),                           # DUP with QoS 0
 violation(pub('', qos => 1, id => 0)),                  # packet id 0
 violation(mqtt_publish(topic => "devices/dev1/messages/events/a=\xc3\x28")),  # bad UTF-8
 violation(mqtt_publish(topic => "devices/dev1/messages/events/a=\x00")),      # NUL
 violation(mqtt_publish(topic => 'devices/dev1/messages/events/#')),            # wildcard
 violation(mqtt_publish(topic => '')),                   # empty topic
 violation("\x30\x05\x00\x10abc"),                       # topic longer than the packet
 violation("\x82\x02\x00\x01"),                          # SUBSCRIBE without filters
 violation(mqtt_packet(0x82, "\x00\x01" . mqtt_string('$iothub/twin/res/#') . "\x03")),  # QoS 3 asked
 violation(mqtt_connack(0)),                             # a server packet
 violation(mqtt_suback(1, 0)),
 violation(mqtt_pingresp()),
 [d2c => []]]
--- error_log
iothub mqtt: malformed packet
iothub mqtt: unexpected packet type
iothub mqtt: invalid fixed header flags
iothub mqtt: invalid qos
iothub mqtt: invalid utf-8 string
iothub mqtt: invalid topic
--- no_error_log
[error]



=== TEST 16: truncated or malformed CONNECTs: closed without CONNACK
--- request eval
put_device('dev1')
--- mqtt eval
[[send => mqtt_packet(0x10, substr(connect_body(device => 'dev1'), 0, 30))],
 [closed => 2],
 [send => mqtt_connect(device => 'dev1', proto => 'MQTX')],
 [closed => 2],
 [send => mqtt_connect(device => 'dev1', flags => 0xc3)],   # reserved flag
 [closed => 2],
 [send => mqtt_packet(0x10, connect_body(device => 'dev1') . 'x')],   # a byte too many
 [closed => 2],
 [send => substr(mqtt_connect(device => 'dev1'), 0, 50)],
 ['close'],
 [sleep => 0.2],
 [connect => 'dev1']]
--- error_log
iothub mqtt: malformed packet
iothub mqtt: unknown protocol name
iothub mqtt: invalid connect flags



=== TEST 17: CONNECT and PUBLISH written one byte at a time
--- request eval
put_device('dev1')
--- mqtt eval
[[trickle => mqtt_connect(device => 'dev1'), 0.002],
 [expect => mqtt_connack(0)],
 [trickle => pub('%24.mid=slow&k=v', qos => 1, id => 300, payload => 'bytewise'), 0.002],
 [expect => mqtt_puback(300)],
 [trickle => mqtt_pingreq() . pub('', qos => 1, id => 301), 0.002],
 [expect => mqtt_pingresp() . mqtt_puback(301)],
 [d2c => [{'p:message-id' => 'slow', 'u:k' => 'v', body => 'bytewise'},
          {body => ''}]]]



=== TEST 18: packets pipelined behind CONNECT wait for it: accepted, then handled; refused, then dropped
--- request eval
put_device('dev1')
--- mqtt eval
[[send => mqtt_connect(device => 'dev1')
          . pub('', qos => 1, id => 1, payload => 'behind')],
 [expect => mqtt_connack(0) . mqtt_puback(1)],
 ['close'],
 [send => mqtt_connect(device => 'dev1', expiry => 1)
          . pub('', qos => 1, id => 2, payload => 'refused')],
 [expect => mqtt_connack(5)],
 [closed => 2],
 [d2c => [{body => 'behind'}]]]



=== TEST 19: Redis down while publishing: no PUBACK for what is not stored, closed; all acknowledged messages kept
--- main_config eval
iothub_block(extra => 'redis_max_backoff 100ms;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => join '', map { pub('', qos => 1, id => $_, payload => "m$_") } 1 .. 3],
 [expect => join '', map { mqtt_puback($_) } 1 .. 3],
 [send => join '', map { pub('', qos => 1, id => $_, payload => "m$_") } 4 .. 1000],
 [expect => mqtt_puback(4)],
 [redis_stop => 'save'],
 [perl => sub {
     my ($c, $t) = @_;
     $c->send(pub('', qos => 1, id => 1001, payload => 'm1001'));
     my ($got, $st) = $c->read_all(5);
     is($st, 'eof', "$t: closed while Redis is down");
     my $ids = puback_ids($got);
     ok($ids, "$t: only PUBACKs arrived") or diag(mqtt_describe($got));
     @ACKED = (4, @{$ids || []});
     is("@ACKED", join(' ', 4 .. 3 + @ACKED), "$t: PUBACKs in order");
     ok(@ACKED < 997, "$t: not every message acknowledged");
     diag('TEST 18: ' . @ACKED . ' of 997 acknowledged before Redis went')
         if $ENV{TEST_IOTHUB_VERBOSE};
 }],
 ['close'],
 ['redis_start'],
 [perl => sub {
     my (undef, $t) = @_;
     my %stored = map { ($_->{body} => 1) } @{d2c_messages()};
     my @lost = grep { !$stored{"m$_"} } 1 .. 3, @ACKED;
     ok(!@lost, "$t: every acknowledged message is stored")
         or diag("lost: @lost");
     diag('TEST 18: ' . keys(%stored) . ' stored') if $ENV{TEST_IOTHUB_VERBOSE};
 }],
 [sleep => 0.5],
 [conn => 'b'],
 [connect => 'dev1'],
 [send => pub('', qos => 1, id => 1, payload => 'after')],
 [expect => mqtt_puback(1)],
 [perl => sub {
     my (undef, $t) = @_;
     is(scalar(grep { $_->{body} eq 'after' } @{d2c_messages()}), 1,
        "$t: stored after Redis came back");
 }]]
--- error_log eval
[qr/message not acknowledged/]



=== TEST 20: the hub's own names in a device's bag (iothub-*, mqtt-retain, any case) are dropped; $.ctime still maps
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('iothub-MessageType=Will&iothub-connection-device-id=other'
              . '&mqtt-retain=true&IoTHub-EnqueuedTime=1999&x-opt-retain=1'
              . '&iothub-creation-time-utc=forged&iothub-outputname=o'
              . '&%24.ctime=2024-01-02T03%3A04%3A05Z&alert=1',
              qos => 1, id => 1, payload => 'spoof')],
 [expect => mqtt_puback(1)],
 [send => pub('MQTT-Retain=false&k=v', qos => 1, id => 2, retain => 1,
              payload => 'retained')],
 [expect => mqtt_puback(2)],
 [d2c => [{_fields => [@STAMPS, qw(u:iothub-creation-time-utc u:alert
                                   body)],
           'a:iothub-connection-device-id' => 'dev1',
           'u:iothub-creation-time-utc' => '2024-01-02T03:04:05Z',
           'u:alert' => '1', body => 'spoof'},
          {_fields => [@STAMPS, qw(u:k u:mqtt-retain body)],
           'u:k' => 'v', 'u:mqtt-retain' => 'true', body => 'retained'}]]]
--- no_error_log
[error]



=== TEST 21: a will whose bag names iothub-MessageType and mqtt-retain: stored once, as the hub's Will
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1',
              will => [$EV . 'iothub-MessageType=Telemetry&mqtt-retain=true'
                       . '&k=v', 'gone', 1, 0]}],
 ['close'],
 [d2c => [{_fields => [@STAMPS, qw(u:k u:iothub-MessageType body)],
           'a:iothub-connection-device-id' => 'dev1',
           'u:k' => 'v', 'u:iothub-MessageType' => 'Will', body => 'gone'}],
  5]]
--- no_error_log
[error]



=== TEST 22: 30 pipelined publishes (appended in batches): dense sequence numbers after the stored last one
--- redis
SET iothub:test:d2c-last:0 1-41
SET iothub:test:d2c-last:1 1-41
SET iothub:test:d2c-last:2 1-41
SET iothub:test:d2c-last:3 1-41
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [redis => 'CONFIG RESETSTAT'],
 [send => join '', map { pub("n=$_", qos => 1, id => $_, payload => "m$_") } 1 .. 30],
 [expect => join '', map { mqtt_puback($_) } 1 .. 30],
 [d2c => [map { +{'u:n' => $_, body => "m$_"} } 1 .. 30]],
 [perl => sub {
     my (undef, $t) = @_;
     my $m = Test::IotHub::d2c_messages();
     Test::More::is_deeply([map { (split /-/, $_->{_id})[1] } @$m],
                           [42 .. 71], "$t: sequence numbers 42 .. 71");
     (my $last = $m->[-1]{_stream}) =~ s/:d2c:/:d2c-last:/;
     Test::More::is(Test::IotHub::redis_cmd('GET', $last), $m->[-1]{_id},
                    "$t: the partition's last id is the last entry's");
     # one script call per partition and loop turn, not one per message
     my ($calls) = Test::IotHub::redis_cmd('INFO', 'commandstats')
                   =~ /^cmdstat_evalsha:calls=(\d+)/m;
     Test::More::cmp_ok($calls, '<=', 5, "$t: $calls scripts for 30 messages");
 }]]
--- no_error_log
[error]



=== TEST 23: the script cache flushed while a device publishes: the batch is sent again as EVAL, every message stored once
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => pub('n=0', qos => 1, id => 1, payload => 'before')],
 [expect => mqtt_puback(1)],
 [redis => 'SCRIPT FLUSH'],
 [send => join '', map { pub("n=$_", qos => 1, id => $_ + 1, payload => "m$_") } 1 .. 10],
 [expect => join '', map { mqtt_puback($_ + 1) } 1 .. 10],
 [d2c => [{'u:n' => 0, body => 'before'},
          map { +{'u:n' => $_, body => "m$_"} } 1 .. 10]],
 [perl => sub {
     my (undef, $t) = @_;
     Test::More::is_deeply(
         [map { (split /-/, $_->{_id})[1] } @{Test::IotHub::d2c_messages()}],
         [0 .. 10], "$t: sequence numbers 0 .. 10");
 }]]
--- error_log
iothub redis: script cache was flushed, loading again
