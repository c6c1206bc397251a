# Identity registry, bulk operations (reference/rest.md 5): POST /devices
# with up to 100 import entries, the import modes in the Node SDK's mixed
# case, partial failures and the limits.

use lib 't/lib';
use Test::IotHub;

# Test::Base runs every eval section before the first block starts.  A
# value that depends on an earlier response of the same block (its etag)
# is a Later object: the harness makes it text only when it sends the
# request, after the earlier requests were checked.
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
sub bulk { r(POST => '/devices', @_) }

our $KEY32 = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
our $KEY17 = 'MDEyMzQ1Njc4OWFiY2RlZmc=';
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';
our $OK = '{"errors":[],"warnings":[],"isSuccessful":true}';

# The body of a bulk answer with the given errors, each
# [deviceId, moduleId or undef, operation, errorCode].
sub failed_re {
    my $errors = join ',', map {
        my ($d, $m, $op, $code) = @$_;
        '\{"deviceId":"' . quotemeta($d) . '","moduleId":'
        . (defined $m ? '"' . quotemeta($m) . '"' : 'null')
        . ',"operation":"' . $op . '","errorCode":"' . $code
        . '","errorStatus":"[^"]+"\}'
    } @_;
    return qr/^\{"errors":\[$errors\],"warnings":\[\],"isSuccessful":false\}$/;
}

sub error_re {
    my ($code, $text) = @_;
    (my $json = defined $text ? $text : '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[^"]+"\}$/;
}

sub stats_re {
    my ($t, $e, $d) = @_;
    return qr/^\{"totalDeviceCount":$t,"enabledDeviceCount":$e,"disabledDeviceCount":$d\}$/;
}

run_tests();

__DATA__

=== TEST 1: create entries: 200, isSuccessful, no errors; devices as given
--- request eval
[bulk(qq{[{"id":"b1","importMode":"create"},
          {"id":"b2","importMode":"create","status":"disabled","statusReason":"new",
           "authentication":{"type":"sas","symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}},
          {"id":"b3","importMode":"create","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}}]}),
 r(GET => '/devices/b1'),
 r(GET => '/devices/b2'),
 r(GET => '/devices/b3'),
 r(GET => '/statistics/devices')]
--- response_body eval
[$OK, undef, undef, undef, undef]
--- response_body_like eval
[undef,
 qr/^\{"deviceId":"b1","generationId":"\d{18}","etag":"[^"]+","connectionState":"Disconnected","status":"enabled",.*"primaryKey":"[A-Za-z0-9+\/]{43}=","secondaryKey":"[A-Za-z0-9+\/]{43}="/,
 qr/^\{"deviceId":"b2",.*"status":"disabled","statusReason":"new",.*"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/,
 qr/^\{"deviceId":"b3",.*"primaryKey":"[A-Za-z0-9+\/]{43}=","secondaryKey":"[A-Za-z0-9+\/]{43}="/,
 stats_re(3, 2, 1)]
--- response_headers eval
["$JSON_CT\n!ETag\n!iothub-errorcode"]
--- redis_check
HGET iothub:test:{b1}:twin version => 1
SMEMBERS iothub:test:disabled => [b2]
--- no_error_log
[error]



=== TEST 2: the Node SDK's modes: create, Update (upsert), UpdateIfMatchETag, Delete, DeleteIfMatchETag
--- request eval
[r(PUT => '/devices/u1', '{}'),
 r(PUT => '/devices/u2', '{}'),
 r(PUT => '/devices/del1', '{}'),
 r(PUT => '/devices/del2', '{}'),
 bulk(later { qq{[
   {"id":"new1","importMode":"create"},
   {"id":"up0","importMode":"Update","status":"disabled"},
   {"id":"u1","importMode":"Update","status":"disabled","statusReason":"bulk"},
   {"id":"u2","importMode":"UpdateIfMatchETag","eTag":"$SAW{u2}","status":"disabled"},
   {"id":"del1","importMode":"Delete"},
   {"id":"del2","importMode":"DeleteIfMatchETag","eTag":"$SAW{del2}"}]} }),
 r(GET => '/devices'),
 r(GET => '/devices/up0'),
 r(GET => '/devices/u1'),
 r(GET => '/devices/u2'),
 r(GET => '/statistics/devices')]
--- response_body_like eval
[undef, keep('u2'), undef, keep('del2'),
 qr/^\Q$OK\E$/,
 qr/^\[\{"deviceId":"new1",.*\},\{"deviceId":"u1",.*\},\{"deviceId":"u2",.*\},\{"deviceId":"up0",[^\]]*\]\}\]$/,
 qr/^\{"deviceId":"up0","generationId":"\d{18}",.*"status":"disabled",.*"primaryKey":"[A-Za-z0-9+\/]{43}="/,
 qr/^\{"deviceId":"u1",.*"status":"disabled","statusReason":"bulk"/,
 qr/^\{"deviceId":"u2","generationId":"\d{18}","etag":"(?!(??{ quotemeta $main::SAW{u2} })")[^"]+",.*"status":"disabled"/,
 stats_re(4, 1, 3)]
--- redis_check
EXISTS iothub:test:{del1}:device => 0
EXISTS iothub:test:{del2}:device => 0
EXISTS iothub:test:{del2}:twin => 0
HGET iothub:test:{up0}:twin version => 1



=== TEST 3: importMode compares case-insensitively
--- request eval
[bulk('[{"id":"c1","importMode":"CREATE"},{"id":"c2","importMode":"Create"}]'),
 bulk('[{"id":"c1","importMode":"uPdAtE","status":"disabled"},{"id":"c2","importMode":"DELETE"}]'),
 r(GET => '/devices')]
--- response_body_like eval
[qr/^\Q$OK\E$/, qr/^\Q$OK\E$/,
 qr/^\[\{"deviceId":"c1",.*"status":"disabled",[^\]]*\]\}\]$/]



=== TEST 4: UpdateIfMatchETag and DeleteIfMatchETag with a stale eTag fail; the devices stay
--- request eval
[r(PUT => '/devices/u1', '{}'),
 r(PUT => '/devices/d1', '{}'),
 bulk('[{"id":"u1","importMode":"UpdateIfMatchETag","eTag":"c3RhbGU=","status":"disabled"},
        {"id":"d1","importMode":"DeleteIfMatchETag","eTag":"c3RhbGU="}]'),
 r(GET => '/devices/u1'),
 r(GET => '/devices/d1')]
--- error_code eval
[200, 200, 400, 200, 200]
--- response_body_like eval
[keep('u1'), keep('d1'),
 failed_re(['u1', undef, 'updateIfMatchETag', 'PreconditionFailed'],
           ['d1', undef, 'deleteIfMatchETag', 'PreconditionFailed']),
 qr/^\{"deviceId":"u1","generationId":"\d{18}","etag":"(??{ quotemeta $main::SAW{u1} })","connectionState":"Disconnected","status":"enabled"/,
 qr/^\{"deviceId":"d1","generationId":"\d{18}","etag":"(??{ quotemeta $main::SAW{d1} })"/]
--- response_headers eval
[undef, undef, $JSON_CT]



=== TEST 5: partial failure: the duplicate fails, the other entries apply
--- request eval
[r(PUT => '/devices/d1', '{}'),
 bulk('[{"id":"d0","importMode":"create"},{"id":"d1","importMode":"create"},{"id":"d2","importMode":"create"}]'),
 r(GET => '/devices')]
--- error_code eval
[200, 400, 200]
--- response_body_like eval
[undef,
 failed_re(['d1', undef, 'create', 'DeviceAlreadyExists']),
 qr/^\[\{"deviceId":"d0",.*\},\{"deviceId":"d1",.*\},\{"deviceId":"d2",[^\]]*\]\}\]$/]
--- response_body eval
[undef, '{"errors":[{"deviceId":"d1","moduleId":null,"operation":"create","errorCode":"DeviceAlreadyExists","errorStatus":"the identity already exists"}],"warnings":[],"isSuccessful":false}']



=== TEST 6: operations on missing devices fail with DeviceNotFound
--- request eval
bulk('[{"id":"m1","importMode":"delete"},{"id":"m2","importMode":"deleteIfMatchETag","eTag":"MTIz"},{"id":"m3","importMode":"updateIfMatchETag","eTag":"MTIz"}]')
--- error_code: 400
--- response_body_like eval
failed_re(['m1', undef, 'delete', 'DeviceNotFound'],
          ['m2', undef, 'deleteIfMatchETag', 'DeviceNotFound'],
          ['m3', undef, 'updateIfMatchETag', 'DeviceNotFound'])
--- redis_check
EXISTS iothub:test:devices => 0



=== TEST 7: 101 entries: 400 TooManyDevices, nothing created
--- request eval
bulk('[' . join(',', map { qq{{"id":"t$_","importMode":"create"}} } 1 .. 101) . ']')
--- error_code: 400
--- response_body_like eval
error_re('TooManyDevices')
--- response_headers
iothub-errorcode: TooManyDevices
--- redis_check
EXISTS iothub:test:devices => 0



=== TEST 8: 100 entries are accepted
--- request eval
[bulk('[' . join(',', map { qq{{"id":"t$_","importMode":"create"}} } 1 .. 100) . ']'),
 r(GET => '/statistics/devices')]
--- response_body eval
[$OK, '{"totalDeviceCount":100,"enabledDeviceCount":100,"disabledDeviceCount":0}']
--- redis_check
ZCARD iothub:test:devices => 100
EXISTS iothub:test:{t100}:twin => 1



=== TEST 9: the same id twice in one request: 400 DeviceDefinedMultipleTimes, nothing applied
--- request eval
[bulk('[{"id":"a","importMode":"create"},{"id":"b","importMode":"create"},{"id":"a","importMode":"delete"}]'),
 bulk('[{"id":"d","moduleId":"m","importMode":"create"},{"id":"d","moduleId":"m","importMode":"create"}]')]
--- error_code: 400
--- response_body_like eval
error_re('DeviceDefinedMultipleTimes')
--- response_headers
iothub-errorcode: DeviceDefinedMultipleTimes
--- redis_check
EXISTS iothub:test:devices => 0



=== TEST 10: ids differing in case or in moduleId are not duplicates
--- request eval
[bulk('[{"id":"a","importMode":"create"},{"id":"A","importMode":"create"},
        {"id":"a","moduleId":"m1","importMode":"create"}]'),
 r(GET => '/devices/A'),
 r(GET => '/devices/a')]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\Q$OK\E$|^\{"errors":\[\{"deviceId":"a","moduleId":"m1","operation":"create","errorCode":"DeviceNotFound"/,
 qr/^\{"deviceId":"A",/, qr/^\{"deviceId":"a",/]



=== TEST 11: bodies that are not an array of entries: 400, nothing created
--- request eval
[bulk('{"id":"x","importMode":"create"}'),
 bulk('[]'),
 bulk('"x"'),
 bulk('[{"id":"x","importMode":"create"},"y"]'),
 bulk('[{"id":"x","importMode":"create"},[]]'),
 bulk('[{"importMode":"create"}]'),
 bulk('[{"id":"x"}]'),
 bulk('[{"id":"x","importMode":"upsert"}]'),
 bulk('[{"id":"x^y","importMode":"create"}]'),
 bulk('[{"id":"x","importMode":"create","status":"on"}]'),
 bulk('[{"id":"x","importMode":"create"}'),
 bulk('')]
--- error_code: 400
--- response_body_like eval
[error_re('ArgumentInvalid', 'the body is not a JSON array'),
 (error_re('ArgumentInvalid')) x 9,
 error_re('IotHubFormatError'),
 qr/^\{"Message":"ErrorCode:(?:IotHubFormatError|ArgumentInvalid);/]
--- redis_check
EXISTS iothub:test:devices => 0
EXISTS iothub:test:{x}:device => 0



=== TEST 12: a bad entry is named in the message
--- request eval
bulk('[{"id":"x","importMode":"create"},{"id":"y","importMode":"explode"}]')
--- error_code: 400
--- response_body_like eval
error_re('ArgumentInvalid', 'entry 1: ')



=== TEST 13: module entries: create, delete, and failures naming the module
--- request eval
[r(PUT => '/devices/d1', '{}'),
 bulk('[{"id":"d1","moduleId":"m1","importMode":"create"},{"id":"d1","moduleId":"m2","importMode":"create"}]'),
 r(GET => '/devices/d1/modules'),
 bulk('[{"id":"d1","moduleId":"m1","importMode":"delete"},
        {"id":"nodev","moduleId":"m1","importMode":"create"},
        {"id":"d1","moduleId":"m2","importMode":"create"},
        {"id":"d1","moduleId":"m9","importMode":"deleteIfMatchETag","eTag":"MTIz"}]'),
 r(GET => '/devices/d1/modules')]
--- error_code eval
[200, 200, 200, 400, 200]
--- response_body_like eval
[undef, qr/^\Q$OK\E$/,
 qr/^\[\{"moduleId":"m1","deviceId":"d1",.*\},\{"moduleId":"m2","deviceId":"d1",[^\]]*\]$/,
 failed_re(['nodev', 'm1', 'create', 'DeviceNotFound'],
           ['d1', 'm2', 'create', 'ModuleAlreadyExistsOnDevice'],
           ['d1', 'm9', 'deleteIfMatchETag', 'ModuleNotFound']),
 qr/^\[\{"moduleId":"m2","deviceId":"d1",[^\]]*\]$/]
--- redis_check
EXISTS iothub:test:{d1}:module:m1 => 0
EXISTS iothub:test:{d1}:twin:m1 => 0
EXISTS iothub:test:{nodev}:module:m1 => 0
SMEMBERS iothub:test:{d1}:modules => [m2]



=== TEST 14: module update with the module's eTag
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(PUT => '/devices/d1/modules/m1', '{}'),
 bulk(later { qq{[{"id":"d1","moduleId":"m1","importMode":"UpdateIfMatchETag","eTag":"$SAW{m1}",
                   "authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}]} }),
 bulk(later { qq{[{"id":"d1","moduleId":"m1","importMode":"UpdateIfMatchETag","eTag":"$SAW{m1}"}]} }),
 r(GET => '/devices/d1/modules/m1')]
--- error_code eval
[200, 200, 200, 400, 200]
--- response_body_like eval
[undef, keep('m1'), qr/^\Q$OK\E$/,
 failed_re(['d1', 'm1', 'updateIfMatchETag', 'PreconditionFailed']),
 qr/"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/]



=== TEST 15: twin import modes are reported as failed entries
--- request eval
[r(PUT => '/devices/d1', '{}'),
 bulk('[{"id":"d1","importMode":"updateTwin","tags":{"a":1}},{"id":"d2","importMode":"create"}]'),
 r(GET => '/devices/d2')]
--- error_code eval
[200, 400, 200]
--- response_body_like eval
[undef, failed_re(['d1', undef, 'updateTwin', 'ArgumentInvalid']), qr/"deviceId":"d2"/]



=== TEST 16: unknown and read-only entry fields are ignored
--- request eval
[bulk('[{"id":"i1","importMode":"create","twinETag":"x","tags":{"t":1},"properties":{"desired":{"a":1}},"connectionString":"x","generationId":"1","etag":"forged"}]'),
 r(GET => '/devices/i1')]
--- response_body_like eval
[qr/^\Q$OK\E$/, qr/^\{"deviceId":"i1","generationId":"\d{18}","etag":"(?!forged")/]
