# MQTT CONNECT (reference/mqtt.md 2, 9; auth.md 3 and 6.1): the SAS
# authentication matrix and its CONNACK codes, protocol violations around
# CONNECT, the connect timeout, Redis down, connection state in the
# registry, persistent sessions and takeover on one node and across two.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MKEY = 'bW9kdWxlLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Ng==';
our $MKEY2 = 'bW9kdWxlLWtleS0yLTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=';

run_tests();

__DATA__

=== TEST 1: device token signed with the primary key: CONNACK 0, then DISCONNECT
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1'}],
 [send => mqtt_disconnect()],
 [closed => 2]]
--- error_log
"dev1" connected, clean session 1
client sent DISCONNECT
--- no_error_log
[error]
CONNECT refused



=== TEST 2: device token signed with the secondary key
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', key => $DEVICE_KEY2}],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
[error]
CONNECT refused



=== TEST 3: module token (primary and secondary module key); the module shows Connected
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY, key2 => $MKEY2)]
--- mqtt eval
[[connect => {device => 'dev1', module => 'm1', key => $MKEY}],
 [request => "GET /devices/dev1/modules/m1?$V", 200,
  qr/"connectionState":"Connected"/],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Disconnected"/],
 [send => mqtt_disconnect()],
 [closed => 2],
 [request => "GET /devices/dev1/modules/m1?$V", 200,
  qr/"connectionState":"Disconnected"/, 2],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY2}]]
--- error_log
"dev1/m1" connected
--- no_error_log
CONNECT refused



=== TEST 4: a module connecting with a token signed with the device key: 5
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY, key2 => $MKEY2)]
--- mqtt eval
[mqtt_refused({device => 'dev1', module => 'm1'}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature, client "dev1/m1"



=== TEST 5: policy token of "device" (device_connect), scoped to the device and hub-wide
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1',
              password => sas_token(policy => 'device', device => 'dev1')}],
 [send => mqtt_disconnect()],
 [closed => 2],
 [connect => {device => 'dev1', password => sas_token(policy => 'device')}],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
CONNECT refused



=== TEST 6: policy "device" token scoped to another device: 5
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[mqtt_refused({device => 'dev1',
          password => sas_token(policy => 'device', device => 'dev2')}, 5)]
--- error_log
CONNECT refused with 5, the SAS token is for another identity



=== TEST 7: policy without device_connect ("service", "iothubowner" has it): 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1',
          password => sas_token(policy => 'service', device => 'dev1')}, 5),
 mqtt_refused({device => 'dev1',
          password => sas_token(policy => 'registryReadWrite')}, 5)]
--- error_log
CONNECT refused with 5, the policy has no device_connect right



=== TEST 8: policy token naming a policy the hub does not have: 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1',
          password => sas_token(policy => 'nosuch', device => 'dev1',
                                key => $DEVICE_KEY)}, 5)]
--- error_log
CONNECT refused with 5



=== TEST 9: expired token: 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1', expiry => time - 60}, 5)]
--- error_log
CONNECT refused with 5, expired SAS token, client "dev1"



=== TEST 10: forged token (another key): 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1', key => $POLICY_KEYS{device}[0]}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature, client "dev1"



=== TEST 11: another device's token (same key, sr of dev2): 5
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[mqtt_refused({device => 'dev1', password => device_token('dev2')}, 5)]
--- error_log
CONNECT refused with 5, the SAS token is for another identity, client "dev1"



=== TEST 12: disabled device: 5
--- request eval
put_device('dev3', status => 'disabled')
--- mqtt eval
[mqtt_refused({device => 'dev3'}, 5)]
--- error_log
CONNECT refused with 5, the device is disabled, client "dev3"



=== TEST 13: unregistered device and unregistered module: 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'ghost'}, 5),
 mqtt_refused({device => 'dev1', module => 'ghost'}, 5)]
--- error_log
CONNECT refused with 5, identity not registered, client "ghost"
CONNECT refused with 5, identity not registered, client "dev1/ghost"



=== TEST 14: an x509 (selfSigned) device presenting a SAS token: 5
--- request eval
put_device('x1', type => 'selfSigned')
--- mqtt eval
[mqtt_refused({device => 'x1'}, 5)]
--- error_log
CONNECT refused with 5, the identity does not authenticate with SAS tokens



=== TEST 15: no password: 5
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1', password => undef}, 5)]
--- error_log eval
[qr/CONNECT refused with 5, .*client "dev1"/]



=== TEST 16: a password that is not a SAS token: 4
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1', password => 'garbage'}, 4),
 mqtt_refused({device => 'dev1', password => 'SharedAccessSignature sr=localhost%2Fdevices%2Fdev1'}, 4)]
--- error_log
CONNECT refused with 4, malformed SAS token, client "dev1"



=== TEST 17: client id differs from the user name's identity: 2
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[mqtt_refused({device => 'dev1', id => 'dev2'}, 2),
 mqtt_refused({device => 'dev1', id => ''}, 2),
 mqtt_refused({device => 'dev1', id => 'dev1/m1'}, 2)]
--- error_log
CONNECT refused with 2, client id does not match the user name



=== TEST 18: no user name, and a user name that names no identity: 4
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({id => 'dev1'}, 4),
 mqtt_refused({device => 'dev1', user => 'localhost'}, 4)]
--- error_log
CONNECT refused with 4, malformed user name



=== TEST 19: a password without a user name breaks MQTT-3.1.2-22: closed without CONNACK
--- request eval
put_device('dev1')
--- mqtt eval
[[send => mqtt_connect(id => 'dev1', password => device_token('dev1'))],
 [closed => 2]]
--- no_error_log
CONNECT refused



=== TEST 20: older user name forms: no "?", and just host/device
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1',
              user => 'localhost/dev1/api-version=2016-11-14&DeviceClientType=x'}],
 ['close'],
 [connect => {device => 'dev1', user => 'localhost/dev1'}]]
--- no_error_log
CONNECT refused



=== TEST 21: MQTT 3.1 (MQIsdp, level 3) and level 5: CONNACK 1, then closed
--- request eval
put_device('dev1')
--- mqtt eval
[mqtt_refused({device => 'dev1', level => 3}, 1),
 mqtt_refused({device => 'dev1', level => 5}, 1)]
--- error_log
unsupported protocol level 3
unsupported protocol level 5



=== TEST 22: PINGREQ or PUBLISH before CONNECT: closed, nothing sent
--- request eval
put_device('dev1')
--- mqtt eval
[[send => mqtt_pingreq()],
 [closed => 2],
 [send => mqtt_publish(topic => 'devices/dev1/messages/events/')],
 [closed => 2]]
--- error_log
packet type 12 not allowed before CONNECT
packet type 3 not allowed before CONNECT



=== TEST 23: a second CONNECT on a connection: closed
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_connect(device => 'dev1')],
 [closed => 2]]
--- error_log
packet type 1 not allowed after CONNECT



=== TEST 24: connect timeout: no CONNECT, or half of one, within 1 s: closed
--- stream_server_config
iothub_mqtt test;
iothub_mqtt_connect_timeout 1s;
--- mqtt eval
[[conn => 'a'],
 [conn => 'b'],
 [send => substr(mqtt_connect(device => 'dev1'), 0, 20)],
 [conn => 'a'],
 [silent => 0.7],
 [closed => 1.5],
 [conn => 'b'],
 [closed => 0.5]]
--- error_log
no CONNECT in time



=== TEST 25: Redis down during CONNECT: CONNACK 3; a CONNECT works again once it is back
--- main_config eval
iothub_block(extra => 'redis_max_backoff 100ms;')
--- request eval
put_device('dev1')
--- mqtt eval
[[redis_stop => 'save'],
 mqtt_refused({device => 'dev1'}, 3),
 ['redis_start'],
 [sleep => 0.5],
 [connect => 'dev1']]
--- error_log
CONNECT refused with 3, the hub's store is unavailable



=== TEST 26: connectionState Connected while connected, Disconnected after
--- request eval
[put_device('dev1'), "GET /devices/dev1?$V"]
--- response_body_like eval
[qr/"connectionState":"Disconnected","status":"enabled","statusReason":null,"connectionStateUpdatedTime":"0001-01-01T00:00:00Z"/,
 qr/"connectionState":"Disconnected"/]
--- mqtt eval
[[connect => 'dev1'],
 [request => "GET /devices/dev1?$V", 200,
  qr/"connectionState":"Connected","status":"enabled","statusReason":null,"connectionStateUpdatedTime":"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z","statusUpdatedTime":"[^"]+","lastActivityTime":"20\d\d-/],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Connected'],
 [send => mqtt_disconnect()],
 [closed => 2],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Disconnected","status":"enabled","statusReason":null,"connectionStateUpdatedTime":"20/, 2],
 [connect => 'dev1'],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Connected'],
 ['close'],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Disconnected', 2]]



=== TEST 27: clean session 0: session present 0, then 1 (also after a drop); clean 1 discards it
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 0)],
 [send => mqtt_disconnect()],
 [closed => 2],
 [redis => 'EXISTS iothub:test:{dev1}:session', 1],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 ['close'],
 [sleep => 0.2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [send => mqtt_disconnect()],
 [closed => 2],
 [connect => {device => 'dev1', clean => 1}, mqtt_connack(0, 0)],
 [redis => 'EXISTS iothub:test:{dev1}:session', 0],
 [send => mqtt_disconnect()],
 [closed => 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 0)]]



=== TEST 28: takeover on one node: a second connection of the identity closes the first
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}],
 [conn => 'b'],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [conn => 'b'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Connected"/],
 [silent => 0.3],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Connected"/],
 [send => mqtt_disconnect()],
 [closed => 2],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Disconnected', 2]]
--- error_log
replaced by a newer connection of the same identity



=== TEST 29: takeover across two nodes sharing Redis
--- nodes: 2
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[connect => {device => 'dev1', clean => 0}],
 [conn => 'other', 1],
 [connect => 'dev2'],
 [conn => 'b', 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [conn => 'b'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [conn => 'other'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Connected"/],
 [request => {method => 'GET', path => "/devices/dev1?$V", node => 2}, 200,
  qr/"connectionState":"Connected"/],
 [conn => 'c', 1],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'b'],
 [closed => 2]]
--- error_log
replaced by a newer connection of the same identity



=== TEST 30: the session ends when its SAS token expires
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1', ttl => 2}],   # the token is made as the step runs
 [silent => 0.9],
 [closed => 2.5],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Disconnected', 2]]
--- error_log
SAS token expired



=== TEST 31: takeover chain with two workers: each new connection closes the one before
--- workers: 2
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 (map { my ($old, $new) = @$_;
        ([conn => $new], [connect => 'dev1'], [conn => $old], [closed => 2]) }
      [a => 'b'], [b => 'c'], [c => 'd'], [d => 'e'], [e => 'f']),
 [conn => 'f'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Connected']]



=== TEST 32: GET /statistics/service counts the devices connected: a module session and a takeover add none, a DISCONNECT and a delete take one off; it needs registry read
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY), put_device('dev2')]
--- mqtt eval
[[request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":0}'],
 [connect => 'dev1'],
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":1}'],
 [conn => 'm'],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY}],
 [conn => 'b'],
 [connect => 'dev2'],
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":2}'],
 [conn => 'a2'],
 [connect => 'dev1'],
 [conn => 'a'],
 [closed => 2],
 [redis => 'SCARD iothub:test:connected', 2],
 [redis => 'SISMEMBER iothub:test:connected dev1', 1],
 [conn => 'a2'],
 [send => mqtt_disconnect()],
 [closed => 2],
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":1}', 2],
 [request => {method => 'DELETE', path => "/devices/dev2?$V"}, 204],
 [conn => 'b'],
 [closed => 2],
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":0}'],
 [request => {method => 'GET', path => "/statistics/service?$V", auth => 'service'}, 401,
  qr/ErrorCode:IotHubUnauthorizedAccess;/],
 [request => "GET /statistics/devices?$V", 200,
  '{"totalDeviceCount":1,"enabledDeviceCount":1,"disabledDeviceCount":0}']]
--- no_error_log
[error]



=== TEST 33: the model id a device announces (model-id in the user name, percent-encoded or not) is its twin's modelId and its telemetry's dt-dataschema; a connection without one keeps it; a module's goes to the module twin; 256 characters are recorded, 257 are not
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY)]
--- mqtt eval
[[request => "GET /twins/dev1?$V", 200, qr/"modelId":""/],
 [connect => {device => 'dev1', user => "localhost/dev1/?$V"
              . '&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1'}],
 [send => mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1,
                       id => 1, payload => 'pnp')],
 [expect => mqtt_puback(1)],
 [d2c => [{body => 'pnp', 'a:dt-dataschema' => 'dtmi:com:example:Thermostat;1'}]],
 [request => "GET /twins/dev1?$V", 200,
  qr/"modelId":"dtmi:com:example:Thermostat;1"/],
 ['close'],
 [conn => 'b'],
 [connect => 'dev1'],
 [request => "GET /twins/dev1?$V", 200,
  qr/"modelId":"dtmi:com:example:Thermostat;1"/],
 ['close'],
 [conn => 'c'],
 [connect => {device => 'dev1', user => "localhost/dev1/?$V"
              . '&DeviceClientType=x&model-id=dtmi:com:example:Heater;2'}],
 [request => "GET /twins/dev1?$V", 200, qr/"modelId":"dtmi:com:example:Heater;2"/],
 [conn => 'm'],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY,
              user => "localhost/dev1/m1/?$V&model-id=dtmi:com:example:Module;1"}],
 [request => "GET /twins/dev1/modules/m1?$V", 200,
  qr/"modelId":"dtmi:com:example:Module;1"/],
 [request => "GET /twins/dev1?$V", 200, qr/"modelId":"dtmi:com:example:Heater;2"/],
 [conn => 'd'],
 [connect => {device => 'dev1', user => "localhost/dev1/?$V&model-id=dtmi:"
                                          . ('x' x 251)}],
 [request => "GET /twins/dev1?$V", 200, qr/"modelId":"dtmi:x{251}"/],
 [conn => 'e'],
 [connect => {device => 'dev1', user => "localhost/dev1/?$V&model-id=dtmi:"
                                          . ('y' x 252)}],
 [request => "GET /twins/dev1?$V", 200, qr/"modelId":"dtmi:x{251}"/]]
--- no_error_log
[error]
