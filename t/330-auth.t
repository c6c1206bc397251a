# SAS authorization of the REST service API (reference/auth.md 3-4): the
# token checks, sr scoping, the rights of each policy, and the answers for
# unknown paths and methods.

use lib 't/lib';
use Test::IotHub;
use MIME::Base64 qw(encode_base64);

our $V = 'api-version=2021-04-12';
sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}

sub error_re {
    my ($code, $text) = @_;
    (my $json = defined $text ? $text : '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[^"]+"\}$/;
}

our $UNAUTHORIZED = error_re('IotHubUnauthorizedAccess', 'Unauthorized: ');
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';

run_tests();

__DATA__

=== TEST 1: no Authorization header: 401 IotHubUnauthorizedAccess
--- request eval
[r(GET => '/devices'), r(PUT => '/devices/d1', '{}'),
 r(GET => '/statistics/devices'), r(DELETE => '/devices/d1')]
--- auth: none
--- error_code: 401
--- response_body_like eval
error_re('IotHubUnauthorizedAccess', 'Unauthorized: no credentials')
--- response_headers eval
"iothub-errorcode: IotHubUnauthorizedAccess\n$JSON_CT"
--- error_log
iothub: no Authorization header
--- redis_check
EXISTS iothub:test:{d1}:device => 0



=== TEST 2: malformed tokens: 401
--- request eval
my $good = sas_token();
(my $no_sig = $good) =~ s/&sig=[^&]+//;
(my $no_se = $good) =~ s/&se=\d+//;
(my $bad_se = $good) =~ s/&se=(\d+)/&se=$1x/;
(my $two_sr = $good) =~ s/^(SharedAccessSignature )/$1sr=localhost&/;
[map { r(GET => '/devices', undef, headers => {Authorization => $_}) }
     'SharedAccessSignature garbage',
     'Bearer abc',
     'SharedAccessSignature',
     $no_sig, $no_se, $bad_se, $two_sr,
     lc $good]
--- error_code: 401
--- response_body_like eval
$UNAUTHORIZED
--- error_log
iothub: malformed SAS token



=== TEST 3: expired token: 401
--- request eval
[r(GET => '/devices', undef, auth => 'expired'),
 r(GET => '/devices', undef, auth => sas_token(expiry => time - 1)),
 r(GET => '/devices', undef, auth => sas_token(expiry => time + 60))]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
[error_re('IotHubUnauthorizedAccess', 'Unauthorized: expired SAS token'),
 error_re('IotHubUnauthorizedAccess', 'Unauthorized: expired SAS token'),
 qr/^\[\]$/]
--- error_log
expired SAS token



=== TEST 4: forged signature, or a token signed with another policy's key: 401
--- request eval
[r(GET => '/devices', undef, auth => 'forged'),
 r(GET => '/devices', undef,
   auth => sas_token(policy => 'iothubowner', key => $POLICY_KEYS{registryRead}[0])),
 r(GET => '/devices', undef, auth => sas_token() =~ s/&se=(\d+)/'&se=' . ($1 + 1)/er)]
--- error_code: 401
--- response_body_like eval
error_re('IotHubUnauthorizedAccess', 'Unauthorized: the policy or the signature is not valid')
--- error_log
iothub: unauthorized, bad signature, policy "iothubowner"



=== TEST 5: unknown policy (skn): 401, the same answer as for a bad signature (the log tells them apart)
--- request eval
r(GET => '/devices', undef,
  auth => sas_token(policy => 'nobody', key => $POLICY_KEYS{iothubowner}[0]))
--- error_code: 401
--- response_body_like eval
error_re('IotHubUnauthorizedAccess', 'Unauthorized: the policy or the signature is not valid')
--- response_headers
iothub-errorcode: IotHubUnauthorizedAccess
--- error_log
unknown policy, policy "nobody"



=== TEST 6: device tokens (no skn) cannot call service routes
--- request eval
[r(GET => '/devices/d1', undef, auth => 'device:d1'),
 r(GET => '/devices', undef, auth => sas_token(resource => 'localhost', key => $DEVICE_KEY)),
 r(PUT => '/devices/d1', '{}', auth => 'device:d1'),
 r(GET => '/statistics/devices', undef,
   auth => sas_token(resource => 'localhost', key => $POLICY_KEYS{iothubowner}[0]))]
--- error_code: 401
--- response_body_like eval
error_re('IotHubUnauthorizedAccess', 'Unauthorized: a device token cannot call the service API')
--- error_log
a device token cannot call the service API



=== TEST 7: a token whose sr is another host: 401
--- request eval
[r(GET => '/devices', undef, auth => sas_token(host => 'other.example.com')),
 r(GET => '/devices', undef, auth => sas_token(host => 'localhost.example.com')),
 r(GET => '/devices', undef, auth => sas_token(host => 'local')),
 r(GET => '/devices', undef, auth => sas_token(host => 'LocalHost'))]
--- error_code eval
[401, 401, 401, 200]
--- response_body_like eval
[(error_re('IotHubUnauthorizedAccess', "Unauthorized: the token's resource does not cover the request")) x 3,
 qr/^\[\]$/]
--- error_log
the token's resource does not cover the request



=== TEST 8: the secondary key of a policy is accepted
--- request eval
[r(PUT => '/devices/d1', '{}',
   auth => sas_token(policy => 'iothubowner', key => $POLICY_KEYS{iothubowner}[1])),
 r(GET => '/devices/d1', undef,
   auth => sas_token(policy => 'registryRead', key => $POLICY_KEYS{registryRead}[1]))]
--- response_body_like: ^\{"deviceId":"d1",
--- no_error_log
unauthorized



=== TEST 9: sr=localhost/devices covers /devices routes, not /statistics/devices
--- request eval
my $auth = sas_token(policy => 'registryReadWrite', resource => 'localhost/devices');
[r(PUT => '/devices/d1', '{}', auth => $auth),
 r(GET => '/devices', undef, auth => $auth),
 r(GET => '/devices/d1', undef, auth => $auth),
 r(PUT => '/devices/d1/modules/m1', '{}', auth => $auth),
 r(GET => '/devices/d1/modules', undef, auth => $auth),
 r(GET => '/devices/nope', undef, auth => $auth),
 r(GET => '/statistics/devices', undef, auth => $auth),
 r(GET => '/DEVICES/d1', undef,
   auth => sas_token(policy => 'registryRead', resource => 'localhost/Devices'))]
--- error_code eval
[200, 200, 200, 200, 200, 404, 401, 200]
--- response_body_like eval
[qr/"deviceId":"d1"/, qr/^\[\{"deviceId":"d1"/, qr/"deviceId":"d1"/,
 qr/"moduleId":"m1"/, qr/^\[\{"moduleId":"m1"/,
 error_re('DeviceNotFound'),
 error_re('IotHubUnauthorizedAccess', "Unauthorized: the token's resource does not cover the request"),
 qr/"deviceId":"d1"/]



=== TEST 10: sr=localhost/devices/d1 covers that device only, by whole segments
--- request eval
my $auth = sas_token(policy => 'iothubowner', resource => 'localhost/devices/d1');
[r(PUT => '/devices/d1', '{}', auth => $auth),
 r(PUT => '/devices/d1/modules/m1', '{}', auth => $auth),
 r(PUT => '/devices/d10', '{}', auth => $auth),
 r(PUT => '/devices/D1', '{}', auth => $auth),
 r(GET => '/devices', undef, auth => $auth),
 r(GET => '/devices/d1', undef,
   auth => sas_token(policy => 'iothubowner', resource => 'localhost/devices/d1/modules/m1'))]
--- error_code eval
[200, 200, 401, 401, 401, 401]
--- redis_check
EXISTS iothub:test:{d10}:device => 0
EXISTS iothub:test:{D1}:device => 0



=== TEST 11: registryRead can read, not write
--- redis
HSET iothub:test:{d1}:device deviceId d1 etag MTIz status enabled authType sas
ZADD iothub:test:devices 0 d1
HSET iothub:test:{d1}:module:m1 deviceId d1 moduleId m1 etag MTIz authType sas
SADD iothub:test:{d1}:modules m1
--- auth: registryRead
--- request eval
[r(GET => '/devices'),
 r(GET => '/devices/d1'),
 r(GET => '/devices/d1/modules'),
 r(GET => '/devices/d1/modules/m1'),
 r(GET => '/statistics/devices'),
 r(PUT => '/devices/d2', '{}'),
 r(PUT => '/devices/d1', '{"status":"disabled"}', headers => {'If-Match' => '"*"'}),
 r(DELETE => '/devices/d1', undef, headers => {'If-Match' => '"*"'}),
 r(POST => '/devices', '[{"id":"d3","importMode":"create"}]'),
 r(PUT => '/devices/d1/modules/m2', '{}'),
 r(DELETE => '/devices/d1/modules/m1', undef, headers => {'If-Match' => '"*"'})]
--- error_code eval
[200, 200, 200, 200, 200, 401, 401, 401, 401, 401, 401]
--- response_body_like eval
[qr/^\[\{"deviceId":"d1"/, qr/^\{"deviceId":"d1"/, qr/^\[\{"moduleId":"m1"/,
 qr/^\{"moduleId":"m1"/, qr/^\{"totalDeviceCount":1,/,
 (error_re('IotHubUnauthorizedAccess', 'Unauthorized: the policy lacks the right for this operation')) x 6]
--- error_log
the policy lacks the right for this operation, policy "registryRead"
--- redis_check
EXISTS iothub:test:{d2}:device => 0
EXISTS iothub:test:{d3}:device => 0
HGET iothub:test:{d1}:device status => enabled
SMEMBERS iothub:test:{d1}:modules => [m1]



=== TEST 12: service and device policies have no registry rights
--- request eval
[map { my $p = $_; (r(GET => '/devices', undef, auth => $p),
                    r(GET => '/statistics/devices', undef, auth => $p),
                    r(PUT => '/devices/d1', '{}', auth => $p),
                    r(POST => '/devices', '[{"id":"d2","importMode":"create"}]', auth => $p)) }
     qw(service device)]
--- error_code: 401
--- response_body_like eval
error_re('IotHubUnauthorizedAccess', 'Unauthorized: the policy lacks the right for this operation')
--- redis_check
EXISTS iothub:test:devices => 0



=== TEST 13: registryReadWrite can read and write everything in the registry
--- auth: registryReadWrite
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1', '{"status":"disabled"}', headers => {'If-Match' => '"*"'}),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(GET => '/devices/d1/modules/m1'),
 r(DELETE => '/devices/d1/modules/m1', undef, headers => {'If-Match' => '"*"'}),
 r(POST => '/devices', '[{"id":"d2","importMode":"create"}]'),
 r(GET => '/devices'),
 r(GET => '/statistics/devices'),
 r(DELETE => '/devices/d1', undef, headers => {'If-Match' => '"*"'})]
--- error_code eval
[200, 200, 200, 200, 204, 200, 200, 200, 204]
--- response_body_like eval
[qr/"deviceId":"d1"/, qr/"status":"disabled"/, qr/"moduleId":"m1"/,
 qr/"moduleId":"m1"/, qr/^$/, qr/"isSuccessful":true/,
 qr/^\[\{"deviceId":"d1",.*\},\{"deviceId":"d2",/,
 qr/^\{"totalDeviceCount":2,"enabledDeviceCount":1,"disabledDeviceCount":1\}$/,
 qr/^$/]
--- no_error_log
unauthorized



=== TEST 14: unknown paths: 404 IotHubNotFound
--- request eval
[map { r(GET => $_) }
     '/', '/foo', '/devicesx', '/devices/d1/twin', '/devices/d1/modules/m1/x',
     '/twins', '/configurations', '/jobs/v2', '/statistics',
     '/statistics/nothing', '/statistics/devices/x',
     '/devices/a/b/c/d/e/f/g/h/i/j/k/l/m/n']
--- error_code: 404
--- response_body_like eval
error_re('IotHubNotFound', 'no such resource: /')
--- response_headers
iothub-errorcode: IotHubNotFound
Content-Type: application/json; charset=utf-8



=== TEST 15: methods a route does not take: 405 MethodNotAllowed
--- request eval
[r(PATCH => '/devices/x', '{}'),
 r(POST => '/devices/x', '{}'),
 r(DELETE => '/devices'),
 r(PUT => '/devices', '[]'),
 r(PUT => '/statistics/devices', '{}'),
 r(DELETE => '/statistics/service'),
 r(POST => '/devices/x/modules', '{}'),
 r(PATCH => '/devices/x/modules/m', '{}'),
 r(OPTIONS => '/devices/x')]
--- error_code: 405
--- response_body_like eval
error_re('MethodNotAllowed', 'method ')
--- response_headers
iothub-errorcode: MethodNotAllowed
--- redis_check
EXISTS iothub:test:{x}:device => 0



=== TEST 16: an unknown policy and a bad signature cannot be told apart: same status, headers and body but for the tracking id and time
--- request eval
[r(GET => '/devices', undef,
   auth => sas_token(policy => 'nobody', key => $POLICY_KEYS{iothubowner}[0])),
 r(GET => '/devices', undef,
   auth => sas_token(policy => 'iothubowner', key => $POLICY_KEYS{registryRead}[0]))]
--- error_code eval
[401, 401]
--- response_body_like eval
[map { qr/^\{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized: the policy or the signature is not valid","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:[^"]+"\}$/ } 1, 2]
--- response_headers eval
[("iothub-errorcode: IotHubUnauthorizedAccess\n$JSON_CT") x 2]



=== TEST 17: a policy name (skn) is escaped in the log: a %0A cannot forge a log line
--- request eval
[r(GET => '/devices', undef,
   auth => sas_token(policy => "x\n2020/01/01 00:00:00 [emerg] 1#1: forged", key => $POLICY_KEYS{iothubowner}[0])),
 r(GET => '/devices', undef,
   auth => sas_token(policy => "q\"\\\x01\x7f", key => $POLICY_KEYS{iothubowner}[0]))]
--- error_code eval
[401, 401]
--- error_log
iothub: unauthorized, unknown policy, policy "x\x0a2020/01/01 00:00:00 [emerg] 1#1: forged"
iothub: unauthorized, unknown policy, policy "q\"\\\x01\x7f"
--- no_error_log eval
[qr{^2020/01/01 00:00:00 \[emerg\]}m]
