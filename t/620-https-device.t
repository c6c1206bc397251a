# The HTTPS device endpoint (reference/rest.md 14.1-14.3, messaging.md,
# auth.md): telemetry (one message with its properties as headers, a
# batch as application/vnd.microsoft.iothub.json, module telemetry) into
# the streams MQTT and AMQP telemetry goes to, with the same stamps;
# cloud-to-device polling with ETag lock tokens, complete, reject and
# abandon over the queue MQTT devices use; device credentials on these
# routes only (device, module and device_connect policy tokens; a token
# of another identity, an expired or forged one is 401); a token sent
# again is taken from the identity cache while the identity is unchanged.

use lib 't/lib';
use Test::IotHub;
use MIME::Base64 qw(encode_base64);

require_modules(qw(core http mqtt));

our $V = 'api-version=2020-09-30';
our $EV = "/devices/dev1/messages/events?$V";
our $CB = '/devices/dev1/messages/deviceBound';
our $AUTH_SAS = '{"scope":"device","type":"sas","issuer":"iothub",'
              . '"acceptingIpFilterRule":null}';
our $AUTH_HUB = '{"scope":"hub","type":"sas","issuer":"iothub",'
              . '"acceptingIpFilterRule":null}';
our @STAMPS = qw(a:iothub-connection-device-id
                 a:iothub-connection-auth-generation-id
                 a:iothub-connection-auth-method a:iothub-enqueuedtime
                 a:iothub-message-source);
our $GUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}/;

# device(method, path, token, [headers], body): a request with a token
sub device {
    my ($method, $path, $token, $headers, $body) = @_;
    return http_request($method, $path,
                        [[Host => 'localhost'], [Connection => 'close'],
                         (defined $token ? [Authorization => $token] : ()),
                         ['Content-Length' => length($body // '')],
                         @{$headers || []}], $body);
}

# c2d(id, ack, body, [headers]): a step queueing a C2D message for dev1
sub c2d {
    my ($mid, $ack, $body, $headers) = @_;
    return [request => {method => 'POST', path => "$CB?$V", body => $body,
                        headers => [['iothub-ack', $ack],
                                    ['iothub-messageid', $mid],
                                    @{$headers || []}]}, 204];
}

# The ETag of a C2D answer without its quotes, or undef.
sub lock_of {
    my ($etag) = (shift->{headers}{etag}[0] // '') =~ /^"($GUID)"$/;
    return $etag;
}

run_tests();

__DATA__

=== TEST 1: one message: 204; the stream entry has the header properties and the stamps MQTT messages get
--- request eval
[put_device('dev1'),
 {method => 'POST', path => $EV, auth => 'device:dev1',
  body => '{"temp":21.5}',
  headers => [['IoTHub-MessageId', 'm-1'], ['iothub-correlationid', 'c-1'],
              ['iothub-contenttype', 'application/json'],
              ['iothub-contentencoding', 'utf-8'],
              ['IoTHub-UserId', 'u1'],
              ['iothub-expiry', '2030-01-01T00:00:00Z'],
              ['iothub-creation-time-utc', '2024-01-01T00:00:00Z'],
              ['iothub-interface-id', 'dtmi:x;1'],
              ['dt-subject', 'thermostat1'],
              ['iothub-app-alert', 'high'], ['IOTHUB-APP-Mixed', 'Case'],
              ['iothub-app-iothub-connection-device-id', 'spoof'],
              ['iothub-to', '/devices/dev1/messages/events'],
              ['IoTHub-Ack', 'full'],
              ['Content-Type', 'application/octet-stream']]}]
--- error_code eval
[200, 204]
--- mqtt eval
[[d2c => [{_fields => [@STAMPS, qw(p:message-id p:correlation-id
                                   p:content-type p:content-encoding
                                   p:user-id p:absolute-expiry-time
                                   u:iothub-creation-time-utc
                                   u:iothub-interface-id a:dt-subject
                                   u:alert u:Mixed body)],
           'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-auth-method' => $AUTH_SAS,
           'a:iothub-message-source' => 'Telemetry',
           'p:message-id' => 'm-1', 'p:correlation-id' => 'c-1',
           'p:content-type' => 'application/json',
           'p:content-encoding' => 'utf-8', 'p:user-id' => 'u1',
           'p:absolute-expiry-time' => '2030-01-01T00:00:00Z',
           'u:iothub-creation-time-utc' => '2024-01-01T00:00:00Z',
           'u:iothub-interface-id' => 'dtmi:x;1',
           'a:dt-subject' => 'thermostat1',
           'u:alert' => 'high', 'u:Mixed' => 'Case',
           body => '{"temp":21.5}'}]]]
--- no_error_log
[error]



=== TEST 2: a message sent over HTTPS reaches an MQTT device's stream the same way; an empty body is a message too
--- request eval
[put_device('dev1'),
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'a'},
 {method => 'POST', path => $EV, auth => 'device:dev1', body => ''}]
--- error_code eval
[200, 204, 204]
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1,
                       id => 1, payload => 'b')],
 [expect => mqtt_puback(1)],
 [d2c => [{body => 'a', 'a:iothub-connection-device-id' => 'dev1'},
          {body => ''},
          {body => 'b', 'a:iothub-connection-auth-method' => $AUTH_SAS}]]]



=== TEST 3: a module's telemetry with a module token: the module id is stamped
--- request eval
[put_device('dev1'), put_module('dev1', 'm1'),
 {method => 'POST', path => "/devices/dev1/modules/m1/messages/events?$V",
  auth => sas_token(device => 'dev1', module => 'm1'), body => 'mod',
  headers => [['iothub-app-k', 'v']]}]
--- error_code eval
[200, 200, 204]
--- mqtt eval
[[d2c => [{'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-module-id' => 'm1', 'u:k' => 'v',
           body => 'mod'}]]]



=== TEST 4: a policy token with device_connect sends as any device (scope hub); a policy without it, a device token of another device, a module token on the device route, a forged, an expired and a missing token are 401 with the IoT Hub error body
--- request eval
[put_device('dev1'), put_device('dev2'), put_module('dev1', 'm1'),
 {method => 'POST', path => $EV, body => 'p',
  auth => sas_token(policy => 'device')},
 {method => 'POST', path => $EV, body => 'x',
  auth => sas_token(policy => 'service')},
 {method => 'POST', path => $EV, body => 'x', auth => 'device:dev2'},
 {method => 'POST', path => $EV, body => 'x',
  auth => sas_token(device => 'dev1', module => 'm1')},
 {method => 'POST', path => $EV, body => 'x',
  auth => 'device:dev1:' . encode_base64('forged' x 6, '')},
 {method => 'POST', path => $EV, body => 'x',
  auth => sas_token(device => 'dev1', expiry => time - 10)},
 {method => 'POST', path => $EV, body => 'x', auth => 'none'},
 {method => 'POST', path => $EV, body => 'x',
  auth => 'SharedAccessSignature garbage'},
 {method => 'POST', path => "/devices/nobody/messages/events?$V",
  body => 'x', auth => 'device:nobody'}]
--- error_code eval
[200, 200, 200, 204, 401, 401, 401, 401, 401, 401, 401, 401]
--- response_body_like eval
['', '', '', '', (qr/^\{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized: [^"]+","ExceptionMessage":"Tracking ID:/) x 8]
--- mqtt eval
[[d2c => [{body => 'p', 'a:iothub-connection-auth-method' => $AUTH_HUB}]]]
--- error_log
device "dev1" unauthorized: the policy has no device_connect right
device "dev1" unauthorized: bad SAS token signature
device "dev1" unauthorized: expired SAS token
device "dev1" unauthorized: malformed SAS token
device "nobody" unauthorized: identity not registered



=== TEST 5: device tokens do not open the service API, and the service send route still takes service tokens
--- request eval
[put_device('dev1'),
 {method => 'GET', path => "/devices/dev1?$V", auth => 'device:dev1'},
 {method => 'POST', path => "$CB?$V", auth => 'device:dev1', body => 'x'},
 {method => 'POST', path => "$CB?$V", body => 'x'}]
--- error_code eval
[200, 401, 401, 204]



=== TEST 6: a batch: every element its own message, base64 bodies by default, literal ones with base64Encoded false, properties as headers are
--- request eval
[put_device('dev1'),
 {method => 'POST', path => $EV, auth => 'device:dev1',
  headers => [['Content-Type', 'application/vnd.microsoft.iothub.json']],
  body => '[{"body":"' . encode_base64('{"temp":21}', '')
        . '","properties":{"iothub-app-alert":"high","iothub-messageid":"b-1"}},'
        . '{"body":"{\"temp\":22}","base64Encoded":false},'
        . '{"body":"","properties":{}}]'}]
--- error_code eval
[200, 204]
--- mqtt eval
[[d2c => [{body => '{"temp":21}', 'u:alert' => 'high',
           'p:message-id' => 'b-1',
           'a:iothub-connection-device-id' => 'dev1'},
          {body => '{"temp":22}', 'u:alert' => undef},
          {body => ''}]]]



=== TEST 7: bad batches are 400 ArgumentInvalid and store nothing
--- request eval
[put_device('dev1'),
 map { {method => 'POST', path => $EV, auth => 'device:dev1', body => $_,
        headers => [['Content-Type',
                     'application/vnd.microsoft.iothub.json; charset=utf-8']]} }
     ('[{"body":"YQ=="}', '{"body":"YQ=="}', '[]', '["x"]',
      '[{"body":"YQ=="},{"nobody":1}]', '[{"body":"YQ=="},{"body":1}]',
      '[{"body":"not base64!"}]', '[{"body":"YQ==","properties":[1]}]',
      '[{"body":"YQ==","properties":{"iothub-app-n":1}}]',
      '[{"body":"YQ==","base64Encoded":"no"}]',
      '[' . join(',', ('{"body":""}') x 501) . ']')]
--- error_code eval
[200, (400) x 11]
--- response_body_like eval
['', qr/ErrorCode:ArgumentInvalid;the batch is not valid JSON/,
 qr/not a JSON array/, qr/the batch is empty/, qr/not a JSON array/,
 qr/no string \\"body\\"/, qr/no string \\"body\\"/, qr/not base64/,
 qr/not an object of strings/, qr/not an object of strings/,
 qr/not a boolean/, qr/too many messages/]
--- redis_check eval
[[['EVAL', "return #redis.call('KEYS', 'iothub:test:d2c:*')", 0], 0]]



=== TEST 8: 256 KB is the limit of a message: 413 MessageTooLarge over it, stored at it
--- request eval
[put_device('dev1'),
 {method => 'POST', path => $EV, auth => 'device:dev1',
  body => 'x' x (256 * 1024 + 1)},
 {method => 'POST', path => $EV, auth => 'device:dev1',
  body => 'y' x (256 * 1024)}]
--- error_code eval
[200, 413, 204]
--- response_body_like eval
['', qr/ErrorCode:MessageTooLarge;/, '']
--- mqtt eval
[[d2c => [{body => 'y' x (256 * 1024)}]]]



=== TEST 9: C2D: 204 when none is due; a message is 200 with its properties as headers and the lock as a quoted GUID ETag; locked meanwhile; complete removes it and writes Success feedback; the lock is then lost (412)
--- request eval
put_device('dev1')
--- mqtt eval
[[request => {method => 'GET', path => "$CB?$V", auth => 'device:dev1'},
  204],
 c2d('m-1', 'full', 'hello', [['iothub-correlationid', 'c-1'],
                              ['iothub-app-color', 'red']]),
 [perl => sub {
     my (undef, $t) = @_;
     my $tok = sas_token('dev1');
     my $r = device('GET', "$CB?$V", $tok);
     is($r->{status}, 200, "$t: 200") or diag($r->{raw});
     is($r->{body}, 'hello', "$t: the payload");
     my $lock = lock_of($r);
     ok($lock, "$t: ETag is a quoted GUID") or diag($r->{raw});
     my $h = $r->{headers};
     is($h->{'iothub-messageid'}[0], 'm-1', "$t: iothub-messageid");
     is($h->{'iothub-correlationid'}[0], 'c-1', "$t: iothub-correlationid");
     is($h->{'iothub-ack'}[0], 'full', "$t: iothub-ack");
     is($h->{'iothub-to'}[0], '/devices/dev1/messages/deviceBound',
        "$t: iothub-to");
     is($h->{'iothub-deliverycount'}[0], '0', "$t: iothub-deliverycount");
     like($h->{'iothub-sequencenumber'}[0] // '', qr/^[1-9]\d*$/,
          "$t: iothub-sequencenumber");
     like($h->{'iothub-enqueuedtime'}[0] // '', qr/^20\d\d-\d\d-\d\dT/,
          "$t: iothub-enqueuedtime");
     is($h->{'iothub-app-color'}[0], 'red', "$t: iothub-app-color");
     is(device('GET', "$CB?$V", $tok)->{status}, 204, "$t: locked");
     is(device('DELETE', "$CB/$lock?$V", $tok, [['If-Match', $lock]])
            ->{status}, 204, "$t: completed");
     my $again = device('DELETE', "$CB/$lock?$V", $tok);
     is($again->{status}, 412, "$t: the lock is gone");
     like($again->{body}, qr/ErrorCode:DeviceMessageLockLost;/,
          "$t: DeviceMessageLockLost");
     is(device('GET', "$CB?$V", $tok)->{status}, 204, "$t: none left");
 }],
 [redis => 'XRANGE iothub:test:feedback - +',
  qr/originalMessageId, m-1, .*statusCode, Success/]]



=== TEST 10: C2D reject (bare "reject" flag, as the SDKs send it) dead-letters with Rejected feedback; abandon makes it due again with one more delivery
--- request eval
put_device('dev1')
--- mqtt eval
[c2d('m-2', 'full', 'two'),
 c2d('m-3', 'full', 'three'),
 [perl => sub {
     my (undef, $t) = @_;
     my $tok = sas_token('dev1');
     my $r = device('GET', "$CB?$V", $tok);
     is($r->{body}, 'two', "$t: the oldest first");
     my $lock = lock_of($r);
     is(device('POST', "$CB/$lock/abandon?$V", $tok)->{status}, 204,
        "$t: abandoned");
     my $r2 = device('GET', "$CB?$V", $tok);
     is($r2->{body}, 'two', "$t: due again");
     is($r2->{headers}{'iothub-deliverycount'}[0], '1',
        "$t: one more delivery");
     my $lock2 = lock_of($r2);
     isnt($lock2, $lock, "$t: a new lock");
     is(device('POST', "$CB/$lock/abandon?$V", $tok)->{status}, 412,
        "$t: the old lock is lost");
     is(device('DELETE', "$CB/$lock2?$V&reject", $tok)->{status}, 204,
        "$t: rejected");
     my $r3 = device('GET', "$CB?$V", $tok);
     is($r3->{body}, 'three', "$t: the next");
     is(device('DELETE', "$CB/" . lock_of($r3) . "?reject=true&$V", $tok)
            ->{status}, 204, "$t: reject=true rejects too");
     is(device('GET', "$CB?$V", $tok)->{status}, 204, "$t: none left");
 }],
 [redis => 'XRANGE iothub:test:feedback - +',
  qr/m-2, .*statusCode, Rejected.*m-3, .*statusCode, Rejected/]]



=== TEST 11: wrong lock tokens are 412 DeviceMessageLockLost; another device cannot settle or read dev1's messages
--- request eval
[put_device('dev1'), put_device('dev2')]
--- error_code eval
[200, 200]
--- mqtt eval
[c2d('m-4', 'none', 'four'),
 [perl => sub {
     my (undef, $t) = @_;
     my $tok = sas_token('dev1');
     my $r = device('GET', "$CB?$V", $tok);
     my $lock = lock_of($r);
     ok($lock, "$t: locked");
     (my $other = $lock) =~ s/^./$& eq 'a' ? 'b' : 'a'/e;
     # a lock of random hex digits has no letter about once in 1,800 runs:
     # then its upper case is itself, so one letter is made upper case
     (my $upper = uc $lock) eq $lock and $upper =~ s/^./A/;
     for my $bad ('nonsense', $other, substr($lock, 0, 24) . '000000000000',
                  $upper, "$lock-1") {
         my $b = device('DELETE', "$CB/$bad?$V", $tok);
         is($b->{status}, 412, "$t: $bad is 412");
         like($b->{body}, qr/DeviceMessageLockLost/, "$t: $bad error code");
     }
     my $two = sas_token('dev2');
     is(device('DELETE', "$CB/$lock?$V", $two)->{status}, 401,
        "$t: dev2's token on dev1's route");
     is(device('GET', "$CB?$V", $two)->{status}, 401,
        "$t: dev2 cannot read dev1's queue");
     is(device('GET', "/devices/dev2/messages/deviceBound?$V", $two)
            ->{status}, 204, "$t: dev2's own queue is empty");
     is(device('DELETE', "$CB/\"$lock\"?$V", $tok)->{status}, 204,
        "$t: the quoted ETag completes");
 }]]



=== TEST 12: a message polled over HTTPS and one delivered over MQTT share the queue: the MQTT device gets what HTTPS abandoned
--- request eval
put_device('dev1')
--- mqtt eval
[c2d('m-5', 'none', 'five'),
 [perl => sub {
     my (undef, $t) = @_;
     my $tok = sas_token('dev1');
     my $r = device('GET', "$CB?$V", $tok);
     is($r->{body}, 'five', "$t: polled");
     is(device('POST', "$CB/" . lock_of($r) . "/abandon?$V", $tok)
            ->{status}, 204, "$t: abandoned");
 }],
 [connect => 'dev1'],
 [send => mqtt_subscribe(1, ['devices/dev1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 1)],
 [expect => sub { $_[0] =~ /five$/ }],
 [send => mqtt_puback(1)],
 [redis => 'LLEN {dev1}:c2d', 0]]



=== TEST 13: Redis down: telemetry and C2D polling are 503 ServiceUnavailable (cached identity or not), then work again
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;')
--- request eval
my %fast = (timeout => 1);
[put_device('dev1'), put_device('dev2'),
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'warm'},
 'REDIS STOP SAVE',
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'x', %fast},
 {method => 'POST', path => "/devices/dev2/messages/events?$V",
  auth => 'device:dev2', body => 'x', %fast},
 {method => 'GET', path => "$CB?$V", auth => 'device:dev1', %fast},
 'REDIS START',
 'SLEEP 0.6',
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'back'}]
--- error_code eval
[200, 200, 204, 503, 503, 503, 204]
--- response_body_like eval
['', '', '', (qr/ErrorCode:ServiceUnavailable;/) x 3, '']
--- mqtt eval
[[d2c => [{body => 'warm'}, {body => 'back'}]]]



=== TEST 14: a disabled device and a module of a disabled device are 401; enabled again, the module sends
--- request eval
my $mod = {method => 'POST', body => 'm',
           path => "/devices/dev1/modules/m1/messages/events?$V",
           auth => sas_token(device => 'dev1', module => 'm1')};
my $update = sub { +{%{put_device('dev1', @_)}, headers => [['If-Match', '"*"']]} };
[put_device('dev1'), put_module('dev1', 'm1'),
 $update->(status => 'disabled'),
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'x'},
 $mod,
 $update->(),
 # the worker's cached "disabled" is dropped when the change's invalidation
 # arrives on its subscriber link, a moment after the PUT's answer
 # (architecture.md, identity cache)
 "SLEEP 0.3",
 $mod]
--- error_code eval
[200, 200, 200, 401, 401, 200, 204]
--- error_log
device "dev1" unauthorized: the device is disabled
device "dev1" unauthorized: the module's device is disabled
--- mqtt eval
[[d2c => [{body => 'm', 'a:iothub-connection-module-id' => 'm1'}]]]



=== TEST 15: C2D properties that cannot be headers (an AMQP sender may set them) are dropped, the others delivered: a CR LF cannot split the response
--- request eval
put_device('dev1')
--- mqtt eval
[c2d('m-6', 'none', 'six', [['iothub-app-good', 'yes']]),
 [redis => ['HSET', 'iothub:test:{dev1}:c2d:1', 'u:bad name', 'v',
            'u:x', "a\r\nInjected: 1", 'p:correlation-id', "c\nd"]],
 [perl => sub {
     my (undef, $t) = @_;
     my $r = device('GET', "$CB?$V", sas_token('dev1'));
     is($r->{status}, 200, "$t: 200") or diag($r->{raw});
     is($r->{body}, 'six', "$t: the payload");
     is($r->{headers}{'iothub-app-good'}[0], 'yes', "$t: a good property");
     is($r->{headers}{injected}, undef, "$t: no injected header");
     is($r->{headers}{'iothub-app-x'}, undef, "$t: the bad value dropped");
     is($r->{headers}{'iothub-correlationid'}, undef,
        "$t: a bad system property dropped");
     unlike($r->{raw}, qr/bad name/, "$t: the bad name dropped");
 }]]
--- error_log
C2D application property "bad name" dropped
C2D application property "x" dropped
C2D property iothub-correlationid dropped



=== TEST 16: bodies over the limits get the error envelope, not nginx's page: telemetry over 256 KB from its Content-Length before the body is read, /files and service routes over client_max_body_size, a chunked body too
--- config
location / {
    client_max_body_size 300k;
    lingering_timeout 200ms;
    iothub_api test;
}
--- request eval
my $big = 'x' x (300 * 1024 + 1);
my $files = '/devices/dev1/files?api-version=2020-09-30';
[put_device('dev1'),
 {raw => "POST $EV HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Content-Length: " . (256 * 1024 + 1) . "\r\n\r\nxxxx",
  timeout => 3},
 {method => 'POST', path => $files, auth => 'device:dev1', body => $big},
 {method => 'PUT', path => "/devices/dev2?$V",
  body => '{"deviceId":"dev2","pad":"' . $big . '"}'},
 {raw => "POST $files HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Transfer-Encoding: chunked\r\n\r\n"
         . sprintf("%x\r\n", 300 * 1024 + 1) . "xxxx",
  timeout => 3},
 {method => 'POST', path => $EV, auth => 'device:dev1', body => 'ok'}]
--- error_code eval
[200, 413, 413, 413, 413, 204]
--- response_body_like eval
['', (qr/^\{"Message":"ErrorCode:MessageTooLarge;[^"]*","ExceptionMessage":"Tracking ID:/) x 4, '']
--- response_headers_like eval
['', ({'iothub-errorcode' => '^MessageTooLarge$',
       'Content-Type' => '^application/json'}) x 4, '']
--- mqtt eval
[[d2c => [{body => 'ok'}]]]



=== TEST 17: a lock that expired settles nothing, even when nobody took the message since: complete, reject and abandon are 412 DeviceMessageLockLost; the message comes again, its delivery count unchanged
--- main_config eval
iothub_block(hub_extra => 'c2d_lock_timeout 5s;')
--- request eval
put_device('dev1')
--- mqtt eval
[c2d('m-exp', 'full', 'late'),
 [perl => sub {
     my (undef, $t) = @_;
     my $tok = sas_token('dev1');
     my $r = device('GET', "$CB?$V", $tok);
     my $lock = lock_of($r);
     ok($lock, "$t: locked");
     select(undef, undef, undef, 5.3);
     for my $how (['DELETE', "$CB/$lock?$V"],
                  ['DELETE', "$CB/$lock?reject&$V"],
                  ['POST', "$CB/$lock/abandon?$V"]) {
         my $b = device(@$how, $tok);
         is($b->{status}, 412, "$t: $how->[0] $how->[1] is 412");
         like($b->{body}, qr/ErrorCode:DeviceMessageLockLost;/,
              "$t: $how->[1] error code");
     }
     my $again = device('GET', "$CB?$V", $tok);
     is($again->{status}, 200, "$t: delivered again");
     is($again->{body}, 'late', "$t: the same message");
     is($again->{headers}{'iothub-deliverycount'}[0], '0',
        "$t: no delivery counted");
     my $new = lock_of($again);
     isnt($new, $lock, "$t: a new lock");
     is(device('DELETE', "$CB/$new?$V", $tok)->{status}, 204,
        "$t: the new lock completes");
 }]]



=== TEST 18: lastActivityTime: the first message writes it, then at most once a minute however many messages come (each HTTPS request is a session of its own)
--- request eval
put_device('dev1')
--- mqtt eval
my $post = [request => {method => 'POST', path => $EV, auth => 'device:dev1',
                        body => 'x'}, 204];
[$post, $post,
 [redis => 'HGET iothub:test:{dev1}:device lastActivityTime',
  qr/^20\d\d-\d\d-\d\dT/],
 [redis => 'HSET iothub:test:{dev1}:device lastActivityTime kept', 0],
 $post, $post, $post]
--- redis_check
HGET iothub:test:{dev1}:device lastActivityTime => kept



=== TEST 19: a token sent again is taken without a new HMAC (the worker's identity cache keeps it with the identity record it was verified against), for that identity only and while the record is the same: refused on another device's route, once the device is disabled, and after its keys are regenerated; enabled again, it is accepted
--- request eval
my $t = sas_token(device => 'dev1');
my $post = {method => 'POST', path => $EV, auth => $t, body => 'x'};
my $update = sub { +{%{put_device('dev1', @_)}, headers => [['If-Match', '"*"']]} };
[put_device('dev1'), put_device('dev2'),
 $post, $post,
 {method => 'POST', path => "/devices/dev2/messages/events?$V", auth => $t,
  body => 'x'},
 # each change's invalidation arrives on the subscriber link a moment
 # after the PUT's answer (TEST 14)
 $update->(status => 'disabled'), 'SLEEP 0.3', $post,
 $update->(), 'SLEEP 0.3', $post, $post,
 $update->(key => encode_base64('k3' x 16, ''),
           key2 => encode_base64('k4' x 16, '')), 'SLEEP 0.3', $post]
--- error_code eval
[200, 200, 204, 204, 401, 200, 401, 200, 204, 204, 200, 401]
--- error_log
the SAS token of "iothub:test:{dev1}:device" was verified before
device "dev2" unauthorized: the SAS token is for another identity
device "dev1" unauthorized: the device is disabled
device "dev1" unauthorized: bad SAS token signature



=== TEST 20: a token taken from the cache still expires: refused once its time is up; a policy token taken from the cache still stamps its messages as the policy's (scope hub)
--- request eval
my $token;
my $soon = sub { $token //= sas_token(device => 'dev1', expiry => int(time) + 3) };
my $hub = sas_token(policy => 'device');
my $post = sub { +{method => 'POST', path => $EV, auth => $_[0], body => $_[1]} };
[put_device('dev1'),
 $post->($soon, 'a'), $post->($soon, 'b'), 'SLEEP 3.5', $post->($soon, 'c'),
 $post->($hub, 'p1'), $post->($hub, 'p2')]
--- error_code eval
[200, 204, 204, 401, 204, 204]
--- mqtt eval
[[d2c => [{body => 'a', 'a:iothub-connection-auth-method' => $AUTH_SAS},
          {body => 'b', 'a:iothub-connection-auth-method' => $AUTH_SAS},
          {body => 'p1', 'a:iothub-connection-auth-method' => $AUTH_HUB},
          {body => 'p2', 'a:iothub-connection-auth-method' => $AUTH_HUB}]]]
--- error_log
the SAS token of "iothub:test:{dev1}:device" was verified before
device "dev1" unauthorized: expired SAS token
