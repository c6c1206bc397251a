# MQTT SUBSCRIBE, UNSUBSCRIBE, PINGREQ and keep-alive (reference/mqtt.md 3,
# 9 and 10): SUBACK codes for the IoT Hub filters, 0x80 for any other,
# granted QoS min(asked, 1), the session's subscriptions in Redis
# (iothub:test:{dev}:session "subs" and the presence "features"; bits C2D 1,
# twin responses 2, desired 4, methods 8, module inputs 16), persistent
# sessions restoring them, and the keep-alive of 1.5 times the client's.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $C2D = 'devices/dev1/messages/devicebound/#';
our $RES = '$iothub/twin/res/#';
our $DES = '$iothub/twin/PATCH/properties/desired/#';
our $MET = '$iothub/methods/POST/#';

# One filter asked at QoS $q: its SUBACK code.
sub suback_for {
    my ($filter, $q, $code, $id) = @_;
    $id //= 1;
    return ([send => mqtt_subscribe($id, [$filter, $q])],
            [expect => mqtt_suback($id, $code)]);
}

run_tests();

__DATA__

=== TEST 1: the device filters, one SUBSCRIBE each: granted min(asked, 1)
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 suback_for($C2D, 1, 1, 1),
 suback_for($RES, 0, 0, 2),
 suback_for($DES, 0, 0, 3),
 suback_for($MET, 0, 0, 4),
 suback_for($C2D, 0, 0, 5),
 suback_for($RES, 1, 1, 65535),
 [redis => 'HGET iothub:test:{dev1}:presence features', 15, 1]]
--- no_error_log
SUBSCRIBE to unknown filter



=== TEST 2: one SUBSCRIBE with several filters (C SDK): one code each, in order; QoS 2 asked is granted 1
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(10, [$C2D, 2], [$RES, 0], [$DES, 2], [$MET, 1],
                         ['#', 0], [$RES, 2])],
 [expect => mqtt_suback(10, 1, 0, 1, 1, 0x80, 1)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 15, 1]]



=== TEST 3: 0x80 for filters a device may not use; the connection stays
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(3, ['devices/dev2/messages/devicebound/#', 1],
                         ['#', 0], ['+/+/#', 1],
                         ['devices/dev1/messages/events/#', 1],
                         ['devices/dev1/messages/devicebound/+', 1],
                         ['devices/dev1/messages/devicebound', 1],
                         ['devices/+/messages/devicebound/#', 1],
                         ['$iothub/twin/res', 0], ['$iothub/#', 0],
                         ['$iothub/twin/res/#/x', 0], ['a/#/b', 0],
                         ['devices/dev1/modules/m1/inputs/#', 1],
                         ['$iothub/methods/POST/+', 0])],
 [expect => mqtt_suback(3, (0x80) x 13)],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [redis => 'HGET iothub:test:{dev1}:presence features', 0, 1]]
--- error_log
SUBSCRIBE to unknown filter "devices/dev2/messages/devicebound/#"
SUBSCRIBE to unknown filter "#"



=== TEST 4: module filters: inputs in both forms; C2D is for devices only
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[connect => {device => 'dev1', module => 'm1'}],
 [send => mqtt_subscribe(1, ['devices/dev1/modules/m1/inputs/#', 1],
                         ['devices/dev1/modules/m1/#', 2],
                         [$RES, 0], [$MET, 0],
                         [$C2D, 1],
                         ['devices/dev1/modules/m2/inputs/#', 1])],
 [expect => mqtt_suback(1, 1, 1, 0, 0, 0x80, 0x80)],
 [redis => 'HGET iothub:test:{dev1}:presence:m1 features', 26, 1]]



=== TEST 5: percent-encoded device id in a filter (Python) is the device's own
--- request eval
put_device('py:1')
--- mqtt eval
[[connect => 'py:1'],
 [send => mqtt_subscribe(1, ['devices/py%3A1/messages/devicebound/#', 1],
                         ['devices/py:1/messages/devicebound/#', 1],
                         ['devices/py%3A2/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 1, 1, 0x80)]]



=== TEST 6: UNSUBSCRIBE: UNSUBACK with the packet id, the feature is gone (also for unknown filters)
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}],
 [send => mqtt_subscribe(1, [$C2D, 1], [$RES, 0], [$MET, 0])],
 [expect => mqtt_suback(1, 1, 0, 0)],
 [redis => 'HGET iothub:test:{dev1}:session subs', 11, 1],
 [send => mqtt_unsubscribe(2, $C2D)],
 [expect => mqtt_unsuback(2)],
 [redis => 'HGET iothub:test:{dev1}:session subs', 10, 1],
 [send => mqtt_unsubscribe(777, 'foo/bar', $DES, $MET)],
 [expect => mqtt_unsuback(777)],
 [redis => 'HGET iothub:test:{dev1}:session subs', 2, 1],
 [redis => 'HGET iothub:test:{dev1}:presence features', 2, 1]]



=== TEST 7: PINGREQ answered with PINGRESP, also several pipelined
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [send => mqtt_pingreq() x 5],
 [expect => mqtt_pingresp() x 5]]



=== TEST 8: persistent session: subscriptions survive a reconnect with clean 0 and are restored
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 0)],
 [send => mqtt_subscribe(1, [$C2D, 1], [$RES, 0], [$DES, 0])],
 [expect => mqtt_suback(1, 1, 0, 0)],
 [send => mqtt_disconnect()],
 [closed => 2],
 [redis => 'HGET iothub:test:{dev1}:session subs', 7, 1],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 7, 1],
 # the restored subscriptions are the session's: removing one keeps the rest
 [send => mqtt_unsubscribe(2, $RES)],
 [expect => mqtt_unsuback(2)],
 [redis => 'HGET iothub:test:{dev1}:session subs', 5, 1],
 ['close'],
 [sleep => 0.2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 5, 1],
 [send => mqtt_disconnect()],
 [closed => 2],
 # clean 1 starts empty and discards the stored session
 [connect => {device => 'dev1', clean => 1}, mqtt_connack(0, 0)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 0, 1],
 [redis => 'EXISTS iothub:test:{dev1}:session', 0],
 [send => mqtt_subscribe(3, [$MET, 0])],
 [expect => mqtt_suback(3, 0)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 8, 1],
 [redis => 'EXISTS iothub:test:{dev1}:session', 0],
 [send => mqtt_disconnect()],
 [closed => 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 0)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 0, 1]]



=== TEST 9: the session moves to the connection that took over, with its subscriptions
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}],
 [send => mqtt_subscribe(1, [$C2D, 1], [$MET, 0])],
 [expect => mqtt_suback(1, 1, 0)],
 [conn => 'b', 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [redis => 'HGET iothub:test:{dev1}:presence features', 9, 1],
 [redis => 'HGET iothub:test:{dev1}:session subs', 9, 1]]



=== TEST 10: keep-alive 1 s and no traffic after CONNACK: closed within 1.5 s
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', keepalive => 1}],
 [silent => 1.2],
 [closed => 0.8]]
--- error_log
keep-alive expired



=== TEST 11: keep-alive 1 s: closed 1.5 s after the last packet, not later
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', keepalive => 1}],
 [sleep => 0.6],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [silent => 1.2],
 [closed => 0.8]]
--- error_log
keep-alive expired



=== TEST 12: keep-alive 1 s kept alive by PINGREQ every 0.5 s, and by PUBLISH
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', keepalive => 1}],
 (map { ([sleep => 0.5], [send => mqtt_pingreq()], [expect => mqtt_pingresp()]) }
      1 .. 5),
 (map { ([sleep => 0.5],
         [send => mqtt_publish(topic => 'devices/dev1/messages/events/')]) }
      1 .. 3),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
keep-alive expired



=== TEST 13: a SUBACK comes once the subscription is stored: the presence has it at once
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 suback_for($DES, 0, 0, 1),
 [redis => 'HGET iothub:test:{dev1}:presence features', 4],
 suback_for($MET, 0, 0, 2),
 [redis => 'HGET iothub:test:{dev1}:presence features', 12]]



=== TEST 14: Redis down: the SUBACK comes at once and the subscription holds on the connection
--- main_config eval
iothub_block(extra => 'redis_max_backoff 100ms;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 ['redis_stop'],
 [sleep => 0.2],
 suback_for($MET, 0, 0, 1),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- error_log
iothub redis
