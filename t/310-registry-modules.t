# Identity registry, modules (reference/rest.md 1.1 and 4): create under a
# device, get, list, update and delete with If-Match, and what deleting the
# device does to its modules and twins (docs/redis-schema.md).

use lib 't/lib';
use Test::IotHub;

# Test::Base runs every eval section before the first block starts.  A
# value that depends on an earlier response of the same block (its etag)
# is a Later object: the harness makes it text only when it sends the
# request or checks the headers, after the earlier requests were checked.
package Later {
    use overload '""' => sub { $_[0]->() }, fallback => 1;
}
sub later(&) { bless $_[0], 'Later' }

# keep('x') matches a body's etag and remembers it as $SAW{x}.
our %SAW;
sub keep { my $n = shift; qr/"etag":"([A-Za-z0-9+\/]+=*)"(?{ $main::SAW{$n} = $^N })/ }

our $V = 'api-version=2021-04-12';
sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}
sub if_match { my $v = shift; return (headers => {'If-Match' => $v}) }

our $NEVER = '0001-01-01T00:00:00Z';
our $KEY32 = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
our $KEY17 = 'MDEyMzQ1Njc4OWFiY2RlZmc=';
our $TP1 = '0123456789abcdef0123456789abcdef01234567';
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';

sub error_re {
    my ($code, $text) = @_;
    (my $json = defined $text ? $text : '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:[^"]+"\}$/;
}

run_tests();

__DATA__

=== TEST 1: create a module under an existing device: every field, no status
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{"moduleId":"m1","deviceId":"d1"}')]
--- response_body_like eval
my $k = qr{[A-Za-z0-9+/]{43}=};
[qr/^\{"deviceId":"d1",/,
 qr/^\{"moduleId":"m1","deviceId":"d1","managedBy":null,"generationId":"\d{18}",${\ keep('m1')},"connectionState":"Disconnected","connectionStateUpdatedTime":"\Q$NEVER\E","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,"authentication":\{"symmetricKey":\{"primaryKey":"($k)","secondaryKey":"(?!\2")$k"\},"x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"type":"sas"\}\}$/]
--- response_headers eval
[undef, later { "$JSON_CT\nETag: \"$SAW{m1}\"" }]
--- redis_check
HGET iothub:test:{d1}:module:m1 moduleId => m1
HGET iothub:test:{d1}:module:m1 deviceId => d1
SMEMBERS iothub:test:{d1}:modules => [m1]
HGET iothub:test:{d1}:twin:m1 version => 1
HGET iothub:test:{d1}:twin version => 1
ZRANGE iothub:test:devices 0 -1 => [d1]
--- no_error_log
[error]



=== TEST 2: the device twin is created with the device, at version 1
--- request eval
r(PUT => '/devices/dev1', '{}')
--- redis_check
HGET iothub:test:{dev1}:twin version => 1
HGET iothub:test:{dev1}:twin desired => {}
HGET iothub:test:{dev1}:twin reported => {}
HGET iothub:test:{dev1}:twin tags => {}



=== TEST 3: module body without ids; explicit keys; managedBy; a status is ignored
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/edgeAgent', qq{{"managedBy":"iotEdge","status":"disabled","authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}})]
--- response_body_like eval
[undef,
 qr/^\{"moduleId":"edgeAgent","deviceId":"d1","managedBy":"iotEdge",(?!.*"status").*"symmetricKey":\{"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"\}/]
--- redis_check
SISMEMBER iothub:test:disabled d1 => 0



=== TEST 4: selfSigned module
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/x1', qq{{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"$TP1"}}}}),
 r(GET => '/devices/d1/modules/x1')]
--- response_body_like eval
qr/"authentication":\{"symmetricKey":\{"primaryKey":null,"secondaryKey":null\},"x509Thumbprint":\{"primaryThumbprint":"$TP1","secondaryThumbprint":null\},"type":"selfSigned"\}\}$|^\{"deviceId":"d1"/



=== TEST 5: create under a missing device: 404 DeviceNotFound, nothing stored
--- request eval
r(PUT => '/devices/nodev/modules/m1', '{}')
--- error_code: 404
--- response_body_like eval
error_re('DeviceNotFound', 'Device nodev not registered')
--- response_headers
iothub-errorcode: DeviceNotFound
--- redis_check
EXISTS iothub:test:{nodev}:module:m1 => 0
EXISTS iothub:test:{nodev}:modules => 0
EXISTS iothub:test:{nodev}:twin:m1 => 0



=== TEST 6: duplicate module: 409 ModuleAlreadyExistsOnDevice, module kept
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{"managedBy":"someone"}'),
 r(GET => '/devices/d1/modules/m1')]
--- error_code eval
[200, 200, 409, 200]
--- response_body_like eval
[undef, keep('m1'),
 error_re('ModuleAlreadyExistsOnDevice', 'Module m1 already exists on device d1'),
 qr/^\{"moduleId":"m1","deviceId":"d1","managedBy":null,"generationId":"\d{18}","etag":"(??{ quotemeta $main::SAW{m1} })",/]
--- response_headers eval
[undef, undef, 'iothub-errorcode: ModuleAlreadyExistsOnDevice',
 later { "ETag: \"$SAW{m1}\"" }]



=== TEST 7: the same module id on two devices are two modules
--- request eval
[r(PUT => '/devices/d1', '{}'), r(PUT => '/devices/d2', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(PUT => '/devices/d2/modules/m1', '{}'),
 r(GET => '/devices/d2/modules/m1')]
--- response_body_like eval
[undef, undef, qr/^\{"moduleId":"m1","deviceId":"d1"/,
 qr/^\{"moduleId":"m1","deviceId":"d2"/, qr/^\{"moduleId":"m1","deviceId":"d2"/]



=== TEST 8: GET of a missing module: 404 ModuleNotFound
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(GET => '/devices/d1/modules/m9')]
--- error_code eval
[200, 404]
--- response_body_like eval
[undef, error_re('ModuleNotFound', 'Module m9 not registered on device d1')]
--- response_headers eval
[undef, "iothub-errorcode: ModuleNotFound\n$JSON_CT"]



=== TEST 9: GET of a module of a missing device: 404
--- request eval
r(GET => '/devices/nodev/modules/m1')
--- error_code: 404
--- response_headers_like
iothub-errorcode: ^(?:DeviceNotFound|ModuleNotFound)$



=== TEST 10: list a device's modules in id order; a device without modules lists []
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d2', '{}'),
 (map { r(PUT => "/devices/d1/modules/$_", '{}') } qw(m3 m1 M0 m2)),
 r(GET => '/devices/d1/modules'),
 r(GET => '/devices/d1/modules/'),
 r(GET => '/devices/d2/modules')]
--- response_body_like eval
my $one = sub { qr/\{"moduleId":"$_[0]","deviceId":"d1","managedBy":null,[^{]*\{"symmetricKey":\{[^}]*\},"x509Thumbprint":\{[^}]*\},"type":"sas"\}\}/ };
my $all = qr/^\[${\ $one->('M0')},${\ $one->('m1')},${\ $one->('m2')},${\ $one->('m3')}\]$/;
[undef, undef, undef, undef, undef, undef, $all, $all, qr/^\[\]$/]
--- response_headers eval
[(undef) x 6, $JSON_CT, $JSON_CT, $JSON_CT]



=== TEST 11: list the modules of a missing device: 404 DeviceNotFound
--- request eval
r(GET => '/devices/nodev/modules')
--- error_code: 404
--- response_body_like eval
error_re('DeviceNotFound', 'Device nodev not registered')
--- response_headers
iothub-errorcode: DeviceNotFound



=== TEST 12: ids in the body differing from the path, invalid module ids: 400
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{"moduleId":"m2"}'),
 r(PUT => '/devices/d1/modules/m1', '{"deviceId":"d2"}'),
 r(PUT => '/devices/d1/modules/m%5E1', '{}'),
 r(GET => '/devices/d1/modules/' . ('m' x 129)),
 r(DELETE => '/devices/d%5E1/modules/m1', undef, if_match('"*"')),
 r(PUT => '/devices/d1/modules/m1', '{"moduleId":5}')]
--- error_code eval
[200, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[undef,
 error_re('ArgumentInvalid', 'the id in the body differs from the id in the path'),
 error_re('ArgumentInvalid', 'the id in the body differs from the id in the path'),
 error_re('ArgumentInvalid', 'invalid id "m^1"'),
 error_re('ArgumentInvalid', 'invalid id'),
 error_re('ArgumentInvalid', 'invalid id "d^1"'),
 error_re('ArgumentInvalid')]
--- redis_check
EXISTS iothub:test:{d1}:modules => 0



=== TEST 13: percent-encoded module ids round trip
--- request eval
[r(PUT => '/devices/d%23x', '{}'),
 r(PUT => '/devices/d%23x/modules/m%23y', '{"moduleId":"m#y","deviceId":"d#x"}'),
 r(GET => '/devices/d%23x/modules/m%23y'),
 r(GET => '/devices/d%23x/modules')]
--- response_body_like eval
[qr/^\{"deviceId":"d#x"/, qr/^\{"moduleId":"m#y","deviceId":"d#x"/,
 qr/^\{"moduleId":"m#y","deviceId":"d#x"/,
 qr/^\[\{"moduleId":"m#y","deviceId":"d#x".*\}\]$/]
--- redis_check
SMEMBERS iothub:test:{d#x}:modules => [m#y]



=== TEST 14: update with the module's etag, then with a stale one (412), then "*"
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{"managedBy":"me"}', if_match(later { qq{"$SAW{v1}"} })),
 r(PUT => '/devices/d1/modules/m1', '{"managedBy":"you"}', if_match(later { qq{"$SAW{v1}"} })),
 r(PUT => '/devices/d1/modules/m1', '{"managedBy":"them"}', if_match(later { qq{W/"$SAW{v2}"} })),
 r(PUT => '/devices/d1/modules/m1', qq{{"authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}}, if_match('"*"')),
 r(GET => '/devices/d1/modules/m1')]
--- error_code eval
[200, 200, 200, 412, 200, 200, 200]
--- response_body_like eval
[undef, keep('v1'),
 qr/^\{"moduleId":"m1","deviceId":"d1","managedBy":"me","generationId":"\d{18}",(?!"etag":"(??{ quotemeta $main::SAW{v1} })")${\ keep('v2')},/,
 error_re('PreconditionFailed', 'the etag in If-Match does not match'),
 qr/^\{"moduleId":"m1","deviceId":"d1","managedBy":"them",(?!.*"status")/,
 qr/"managedBy":null,.*"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/,
 qr/"managedBy":null,.*"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/]
--- response_headers eval
[undef, undef, later { "ETag: \"$SAW{v2}\"" }, 'iothub-errorcode: PreconditionFailed']
--- redis_check
HGET iothub:test:{d1}:module:m1 primaryKey => MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=



=== TEST 15: update of a missing module: 404 ModuleNotFound, nothing created
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m9', '{}', if_match('"*"'))]
--- error_code eval
[200, 404]
--- response_body_like eval
[undef, error_re('ModuleNotFound', 'Module m9 not registered on device d1')]
--- redis_check
EXISTS iothub:test:{d1}:module:m9 => 0
EXISTS iothub:test:{d1}:modules => 0



=== TEST 16: delete with a stale etag (412), with the module's etag (204), then 404
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(PUT => '/devices/d1/modules/m2', '{}'),
 r(DELETE => '/devices/d1/modules/m1', undef, if_match('"c3RhbGU="')),
 r(GET => '/devices/d1/modules/m1'),
 r(DELETE => '/devices/d1/modules/m1', undef, if_match(later { qq{"$SAW{m1}"} })),
 r(GET => '/devices/d1/modules/m1'),
 r(DELETE => '/devices/d1/modules/m1', undef, if_match('"*"')),
 r(GET => '/devices/d1/modules'),
 r(GET => '/devices/d1')]
--- error_code eval
[200, 200, 200, 412, 200, 204, 404, 404, 200, 200]
--- response_body_like eval
[undef, keep('m1'), undef,
 error_re('PreconditionFailed'),
 qr/^\{"moduleId":"m1"/,
 qr/^$/,
 error_re('ModuleNotFound', 'Module m1 not registered on device d1'),
 error_re('ModuleNotFound'),
 qr/^\[\{"moduleId":"m2",[^\]]*\]$/,
 qr/^\{"deviceId":"d1"/]
--- redis_check
EXISTS iothub:test:{d1}:module:m1 => 0
EXISTS iothub:test:{d1}:twin:m1 => 0
SMEMBERS iothub:test:{d1}:modules => [m2]
EXISTS iothub:test:{d1}:module:m2 => 1
EXISTS iothub:test:{d1}:twin:m2 => 1



=== TEST 17: deleting the device deletes its modules and module twins
--- request eval
[r(PUT => '/devices/dev', '{}'),
 r(PUT => '/devices/other', '{}'),
 r(PUT => '/devices/dev/modules/m1', '{}'),
 r(PUT => '/devices/dev/modules/m2', '{}'),
 r(PUT => '/devices/other/modules/m1', '{}'),
 r(DELETE => '/devices/dev', undef, if_match('"*"')),
 r(GET => '/devices/dev/modules/m1'),
 r(GET => '/devices/dev/modules'),
 r(PUT => '/devices/dev', '{}'),
 r(GET => '/devices/dev/modules'),
 r(GET => '/devices/other/modules/m1')]
--- error_code eval
[200, 200, 200, 200, 200, 204, 404, 404, 200, 200, 200]
--- response_body_like eval
[(undef) x 6, error_re('ModuleNotFound'), error_re('DeviceNotFound'),
 undef, qr/^\[\]$/, qr/^\{"moduleId":"m1","deviceId":"other"/]
--- redis_check
EXISTS iothub:test:{dev}:module:m1 => 0
EXISTS iothub:test:{dev}:module:m2 => 0
EXISTS iothub:test:{dev}:twin:m1 => 0
EXISTS iothub:test:{dev}:twin:m2 => 0
EXISTS iothub:test:{dev}:modules => 0
HGET iothub:test:{dev}:twin version => 1
EXISTS iothub:test:{other}:module:m1 => 1
EXISTS iothub:test:{other}:twin:m1 => 1



=== TEST 18: modules do not count as devices in statistics or in the device list
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 r(GET => '/statistics/devices'),
 r(GET => '/devices')]
--- response_body_like eval
[undef, undef,
 qr/^\{"totalDeviceCount":1,"enabledDeviceCount":1,"disabledDeviceCount":0\}$/,
 qr/^\[\{"deviceId":"d1",(?!.*"moduleId")/]
