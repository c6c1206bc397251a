# Twins of the service API (reference/rest.md 7, messaging.md 7): GET,
# PATCH and PUT /twins/{id} and /twins/{id}/modules/{mid}, the service
# view with $metadata and versions, the twin ETag (base64 of the version)
# and If-Match, merge patch with nulls, replace, validation and limits, the
# error envelope, and the identity fields the twin shows.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http));

# Eval sections run before the block: values known only after an earlier
# response of the block are Later objects (see t/300-registry-devices.t).
package Later {
    use overload '""' => sub { $_[0]->() }, fallback => 1;
}
sub later(&) { bless $_[0], 'Later' }

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
our $TS = qr/"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"/;
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';

# The twin ETag of version $n: base64 of 8 big-endian bytes.
sub tag { my $n = shift; require MIME::Base64; MIME::Base64::encode_base64(pack('Q>', $n), '') }

# The legacy error envelope (rest.md 2.1).
sub error_re {
    my ($code, $text) = @_;
    (my $json = $text // '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d"\}$/;
}

# The whole service view of an untouched device twin, its deviceEtag kept
# as $SAW{$dev}.
sub fresh_twin {
    my ($dev, %o) = @_;
    my $v = $o{version} // 1;
    return qr/^\{"deviceId":"\Q$dev\E","etag":"\Q${\ tag($v)}\E","deviceEtag":"(??{ quotemeta $main::SAW{$dev} })","status":"enabled","statusUpdateTime":"\Q$NEVER\E","connectionState":"Disconnected","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,"authenticationType":"sas","x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"modelId":"","version":$v,"tags":\{\},"properties":\{"desired":\{"\$metadata":\{\},"\$version":1\},"reported":\{"\$metadata":\{\},"\$version":1\}\},"capabilities":\{"iotEdge":false\}\}$/;
}

run_tests();

__DATA__

=== TEST 1: GET of a new device's twin: every field of the service view, ETag of version 1
--- request eval
[put_device('dev1'), r(GET => '/devices/dev1'), r(GET => '/twins/dev1')]
--- response_body_like eval
[undef, keep('dev1'), fresh_twin('dev1')]
--- response_headers eval
[undef, undef, "ETag: \"AAAAAAAAAAE=\"\n$JSON_CT\n!iothub-errorcode"]
--- no_error_log
[error]



=== TEST 2: GET of a module twin: moduleId, no status or capabilities, its own etag
--- request eval
[put_device('dev1'), put_module('dev1', 'm1'), r(GET => '/devices/dev1/modules/m1'),
 r(GET => '/twins/dev1/modules/m1')]
--- response_body_like eval
[undef, undef, keep('m1'),
 qr/^\{"deviceId":"dev1","moduleId":"m1","etag":"AAAAAAAAAAE=","deviceEtag":"(??{ quotemeta $main::SAW{m1} })","statusUpdateTime":"\Q$NEVER\E","connectionState":"Disconnected","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,"authenticationType":"sas","x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"modelId":"","version":1,"tags":\{\},"properties":\{"desired":\{"\$metadata":\{\},"\$version":1\},"reported":\{"\$metadata":\{\},"\$version":1\}\}\}$/]
--- response_headers eval
[undef, undef, undef, 'ETag: "AAAAAAAAAAE="']



=== TEST 3: PATCH tags and desired: merged, $metadata with $lastUpdatedVersion, versions and ETag grow
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"site":"lab","floor":2},"properties":{"desired":{"interval":30,"mode":{"a":"eco"}}}}'),
 r(PATCH => '/twins/dev1', '{"tags":{"floor":null,"room":{"n":7}},"properties":{"desired":{"mode":{"b":[1,2]}}}}'),
 r(GET => '/twins/dev1')]
--- response_body_like eval
my $m2 = qr/\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2\}/;
[undef,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAI=",.*"version":2,"tags":\{"site":"lab","floor":2\},"properties":\{"desired":\{"interval":30,"mode":\{"a":"eco"\},"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2,"interval":$m2,"mode":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2,"a":$m2\}\},"\$version":2\},"reported":\{"\$metadata":\{\},"\$version":1\}\},"capabilities":\{"iotEdge":false\}\}$/,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAM=",.*"version":3,"tags":\{"site":"lab","room":\{"n":7\}\},"properties":\{"desired":\{"interval":30,"mode":\{"a":"eco","b":\[1,2\]\},"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"interval":$m2,"mode":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"a":$m2,"b":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3\}\}\},"\$version":3\},/,
 qr/"etag":"AAAAAAAAAAM=",.*"version":3,"tags":\{"site":"lab","room":\{"n":7\}\},"properties":\{"desired":\{"interval":30,"mode":\{"a":"eco","b":\[1,2\]\},/]
--- response_headers eval
[undef, 'ETag: "AAAAAAAAAAI="', 'ETag: "AAAAAAAAAAM="', 'ETag: "AAAAAAAAAAM="']
--- redis_check
HGET iothub:test:{dev1}:twin version => 3
HGET iothub:test:{dev1}:twin desiredVersion => 3
HGET iothub:test:{dev1}:twin reportedVersion => 1
HGET iothub:test:{dev1}:twin tags => {"site":"lab","room":{"n":7}}



=== TEST 4: nulls delete desired keys and their $metadata; a tags-only PATCH leaves the desired $version
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":{"a":1,"b":{"c":2,"d":3}}}}'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":{"a":null,"b":{"c":null},"nope":null}}}'),
 r(PATCH => '/twins/dev1', '{"tags":{"t":true}}'),
 r(GET => '/twins/dev1')]
--- response_body_like eval
[undef, qr/"\$version":2\}/,
 qr/"desired":\{"b":\{"d":3\},"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"b":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"d":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2\}\}\},"\$version":3\}/,
 qr/"version":4,"tags":\{"t":true\},"properties":\{"desired":\{"b":\{"d":3\},.*"\$version":3\}/,
 qr/"etag":"AAAAAAAAAAQ=",.*"version":4,/]



=== TEST 5: PATCH ignores identity fields, an empty reported object, and $metadata/$version sent back in desired
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"deviceId":"other","etag":"x","status":"disabled","version":99,"properties":{"desired":{"k":"v","$metadata":{"junk":1},"$version":42},"reported":{}}}'),
 r(GET => '/devices/dev1')]
--- response_body_like eval
[undef,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAI=",.*"status":"enabled",.*"version":2,"tags":\{\},"properties":\{"desired":\{"k":"v","\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2,"k":\{[^{}]*\}\},"\$version":2\},"reported":\{"\$metadata":\{\},"\$version":1\}\}/,
 qr/"status":"enabled"/]



=== TEST 6: refused PATCHes: 400 with the error envelope, the twin unchanged
--- request eval
[put_device('dev1'),
 (map { r(PATCH => '/twins/dev1', $_) }
      '{"properties":{"reported":{"fw":"1"}}}',
      '{"properties":{"desired":{"a.b":1}}}',
      '{"properties":{"desired":{"$x":1}}}',
      '{"properties":{"desired":{"o":{"s p":1}}}}',
      '{"tags":{"t.u":1}}',
      '{"properties":{"desired":{"s":"' . ('x' x 4097) . '"}}}',
      '{"properties":{"desired":{"n":-4503599627370497}}}',
      '{"properties":{"desired":{"a":1}',
      'not json'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, (400) x 9, 200]
--- response_body_like eval
[undef,
 error_re('ArgumentInvalid', 'reported properties cannot be changed by the service'),
 error_re('ArgumentInvalid', q{twin property name "a.b" contains invalid character '.'}),
 error_re('ArgumentInvalid', q{twin property name "$x" contains invalid character '$'}),
 error_re('ArgumentInvalid', q{twin property name "s p" contains invalid character ' '}),
 error_re('ArgumentInvalid', q{twin property name "t.u"}),
 error_re('ArgumentInvalid', 'value of twin property "s" is longer than 4096 bytes'),
 error_re('ArgumentInvalid', 'value of twin property "n" is out of the integer range'),
 error_re('IotHubFormatError'),
 error_re('IotHubFormatError'),
 qr/"etag":"AAAAAAAAAAE=",.*"version":1,"tags":\{\},/]
--- response_headers eval
[undef, ("iothub-errorcode: ArgumentInvalid\n$JSON_CT\n!ETag") x 7,
 ("iothub-errorcode: IotHubFormatError") x 2, undef]
--- redis_check
HGET iothub:test:{dev1}:twin version => 1



=== TEST 7: limits: tags 8 KB and desired 32 KB as messaging.md 7.3 counts them, depth 10
--- request eval
my $s = sub { '"' . ('x' x shift) . '"' };
my $nest = sub { my $n = shift; '{' . join('', map { "\"l$_\":{" } 1 .. $n) . '"x":1' . '}' x ($n + 1) };
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":' . $s->(4096) . ',"b":' . $s->(4094) . '}}'),
 r(PATCH => '/twins/dev1', '{"tags":{"c":1}}'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":{' . join(',', map { "\"$_\":" . $s->(4095) } 'a' .. 'h') . '}}}'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":{"i":true}}}'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":' . $nest->(10) . '}}'),
 r(PUT => '/twins/dev1', '{"properties":{"desired":' . $nest->(10) . '}}'),
 r(PATCH => '/twins/dev1', '{"properties":{"desired":' . $nest->(11) . '}}'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 400, 200, 400, 400, 200, 400, 200]
--- response_body_like eval
[undef, qr/"version":2,/,
 error_re('ArgumentInvalid', 'tags would be 8201 bytes, more than the limit of 8192 bytes'),
 qr/"version":3,/,
 error_re('ArgumentInvalid', 'desired properties would be 32773 bytes, more than the limit of 32768 bytes'),
 error_re('ArgumentInvalid'),
 qr/"version":4,/,
 error_re('ArgumentInvalid', 'twin property "l11" is nested deeper than 10 levels'),
 qr/"version":4,.*"desired":\{"l1":\{"l2":/]



=== TEST 8: If-Match on PATCH: the current etag (quoted, W/, bare) and "*" pass, a stale one gets 412
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"n":1}}', if_match('"AAAAAAAAAAE="')),
 r(PATCH => '/twins/dev1', '{"tags":{"n":2}}', if_match('"AAAAAAAAAAE="')),
 r(PATCH => '/twins/dev1', '{"tags":{"n":3}}', if_match('W/"AAAAAAAAAAI="')),
 r(PATCH => '/twins/dev1', '{"tags":{"n":4}}', if_match('AAAAAAAAAAM=')),
 r(PATCH => '/twins/dev1', '{"tags":{"n":5}}', if_match('"*"')),
 r(PATCH => '/twins/dev1', '{"tags":{"n":6}}', if_match('"bm90IGFuIGV0YWc="')),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 412, 200, 200, 200, 412, 200]
--- response_body_like eval
[undef, qr/"etag":"AAAAAAAAAAI=",.*"tags":\{"n":1\}/,
 error_re('PreconditionFailed', "the etag in If-Match does not match the twin's"),
 qr/"etag":"AAAAAAAAAAM=",.*"tags":\{"n":3\}/,
 qr/"etag":"AAAAAAAAAAQ=",.*"tags":\{"n":4\}/,
 qr/"etag":"AAAAAAAAAAU=",.*"tags":\{"n":5\}/,
 error_re('PreconditionFailed'),
 qr/"etag":"AAAAAAAAAAU=",.*"version":5,"tags":\{"n":5\}/]
--- response_headers eval
[undef, undef, "iothub-errorcode: PreconditionFailed\n!ETag", undef, undef, undef,
 'iothub-errorcode: PreconditionFailed', 'ETag: "AAAAAAAAAAU="']



=== TEST 9: PUT replaces tags and desired entirely, keeps reported, rebuilds desired metadata
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"old":1},"properties":{"desired":{"a":1,"b":{"c":2}}}}'),
 r(PUT => '/twins/dev1', '{"tags":{"new":{"x":true}},"properties":{"desired":{"b":{"d":3}},"reported":{"ignored":1}}}'),
 r(PUT => '/twins/dev1', '{}'),
 r(GET => '/twins/dev1')]
--- response_body_like eval
my $m3 = qr/\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3\}/;
[undef, qr/"version":2,/,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAM=",.*"version":3,"tags":\{"new":\{"x":true\}\},"properties":\{"desired":\{"b":\{"d":3\},"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"b":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":3,"d":$m3\}\},"\$version":3\},"reported":\{"\$metadata":\{\},"\$version":1\}\},/,
 qr/"etag":"AAAAAAAAAAQ=",.*"version":4,"tags":\{\},"properties":\{"desired":\{"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":4\},"\$version":4\},/,
 qr/"version":4,"tags":\{\},"properties":\{"desired":\{"\$metadata":/]
--- redis_check
HGET iothub:test:{dev1}:twin desiredVersion => 4
HGET iothub:test:{dev1}:twin reportedVersion => 1



=== TEST 10: PUT with If-Match: stale 412 (twin unchanged), current 200; a twin read and sent back is accepted
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":1}}'),
 r(PUT => '/twins/dev1', '{"tags":{"b":1}}', if_match('"AAAAAAAAAAE="')),
 r(GET => '/twins/dev1'),
 r(PUT => '/twins/dev1', later { my $b = $SAW{body}; $b =~ s/"a":1/"a":2/; $b }, if_match('"AAAAAAAAAAI="')),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 412, 200, 200, 200]
--- response_body_like eval
[undef, undef, error_re('PreconditionFailed'),
 qr/^(.*"tags":\{"a":1\}.*)$(?{ $main::SAW{body} = $^N })/s,
 qr/"etag":"AAAAAAAAAAM=",.*"version":3,"tags":\{"a":2\},"properties":\{"desired":\{"\$metadata":\{"\$lastUpdated":$TS,"\$lastUpdatedVersion":2\},"\$version":2\},"reported":\{"\$metadata":\{\},"\$version":1\}\}/,
 qr/"tags":\{"a":2\}/]



=== TEST 11: module twins: PATCH, PUT and If-Match on the module's own version; the device twin untouched
--- request eval
[put_device('dev1'), put_module('dev1', 'm1'),
 r(PATCH => '/twins/dev1/modules/m1', '{"tags":{"role":"edge"},"properties":{"desired":{"rate":5}}}', if_match('"AAAAAAAAAAE="')),
 r(PUT => '/twins/dev1/modules/m1', '{"properties":{"desired":{"rate":6}}}', if_match('"AAAAAAAAAAE="')),
 r(PUT => '/twins/dev1/modules/m1', '{"properties":{"desired":{"rate":6}}}', if_match('"AAAAAAAAAAI="')),
 r(GET => '/twins/dev1/modules/m1'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 200, 412, 200, 200, 200]
--- response_body_like eval
[undef, undef,
 qr/^\{"deviceId":"dev1","moduleId":"m1","etag":"AAAAAAAAAAI=",.*"version":2,"tags":\{"role":"edge"\},"properties":\{"desired":\{"rate":5,/,
 error_re('PreconditionFailed'),
 qr/^\{"deviceId":"dev1","moduleId":"m1","etag":"AAAAAAAAAAM=",.*"version":3,"tags":\{\},"properties":\{"desired":\{"rate":6,.*"\$version":3\},"reported":\{"\$metadata":\{\},"\$version":1\}\}\}$/,
 qr/"moduleId":"m1","etag":"AAAAAAAAAAM=",/,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAE=",.*"version":1,"tags":\{\},/]
--- redis_check
HGET iothub:test:{dev1}:twin:m1 version => 3
HGET iothub:test:{dev1}:twin version => 1



=== TEST 12: twins of unknown identities: 404 DeviceNotFound / ModuleNotFound for GET, PATCH and PUT; bad ids 400
--- request eval
[put_device('dev1'),
 r(GET => '/twins/ghost'),
 r(PATCH => '/twins/ghost', '{"tags":{"a":1}}'),
 r(PUT => '/twins/ghost', '{}'),
 r(GET => '/twins/dev1/modules/ghost'),
 r(PATCH => '/twins/dev1/modules/ghost', '{"tags":{"a":1}}'),
 r(GET => '/twins/ghost/modules/m1'),
 r(GET => '/twins/a%5Eb'),
 r(PATCH => '/twins/dev1/modules/a%20b', '{}')]
--- error_code eval
[200, 404, 404, 404, 404, 404, 404, 400, 400]
--- response_body_like eval
[undef,
 (error_re('DeviceNotFound', 'Device ghost not registered')) x 3,
 (error_re('ModuleNotFound', 'Module ghost not registered on device dev1')) x 2,
 error_re('ModuleNotFound', 'Module m1 not registered on device ghost'),
 (error_re('ArgumentInvalid', 'invalid id')) x 2]
--- response_headers eval
[undef, ("iothub-errorcode: DeviceNotFound\n!ETag") x 3,
 ('iothub-errorcode: ModuleNotFound') x 3, ('iothub-errorcode: ArgumentInvalid') x 2]
--- redis_check
EXISTS iothub:test:{ghost}:twin => 0
EXISTS iothub:test:{ghost}:device => 0



=== TEST 13: the twin goes with its device: 404 after DELETE, a new device of the same id starts at version 1
--- request eval
[put_device('dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":1},"properties":{"desired":{"b":2}}}'),
 r(DELETE => '/devices/dev1'),
 r(GET => '/twins/dev1'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":1}}'),
 put_device('dev1'),
 r(GET => '/devices/dev1'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 204, 404, 404, 200, 200, 200]
--- response_body_like eval
[undef, undef, undef, error_re('DeviceNotFound'), error_re('DeviceNotFound'),
 undef, keep('dev1'), fresh_twin('dev1')]
--- redis_check
HGET iothub:test:{dev1}:twin version => 1



=== TEST 14: rights: service_connect is needed (service and iothubowner pass; registry policies and device tokens get 401)
--- request eval
[put_device('dev1'),
 r(GET => '/twins/dev1', undef, auth => 'service'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":1}}', auth => 'service'),
 r(GET => '/twins/dev1', undef, auth => 'registryRead'),
 r(PATCH => '/twins/dev1', '{"tags":{"a":2}}', auth => 'registryReadWrite'),
 r(PUT => '/twins/dev1', '{}', auth => 'device:dev1'),
 r(GET => '/twins/dev1', undef, auth => 'none'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 200, 200, 401, 401, 401, 401, 200]
--- response_body_like eval
[undef, qr/"version":1,/, qr/"version":2,/,
 (error_re('IotHubUnauthorizedAccess', 'Unauthorized: ')) x 4,
 qr/"version":2,"tags":\{"a":1\}/]



=== TEST 15: routes: DELETE and POST on a twin 405, twins of a device's modules list 404
--- request eval
[put_device('dev1'),
 r(DELETE => '/twins/dev1'),
 r(POST => '/twins/dev1', '{}'),
 r(GET => '/twins/dev1/modules'),
 r(GET => '/twins'),
 r(GET => '/TWINS/dev1/')]
--- error_code eval
[200, 405, 405, 404, 404, 200]
--- response_body_like eval
[undef, error_re('MethodNotAllowed'), error_re('MethodNotAllowed'),
 error_re('IotHubNotFound'), error_re('IotHubNotFound'),
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAE=",/]



=== TEST 16: the twin shows the identity's state: status and its time, connection, x509 type
--- request eval
[put_device('dev1'), put_device('x1', type => 'selfSigned'),
 r(PUT => '/devices/dev1', '{"status":"disabled"}', if_match('"*"')),
 r(GET => '/twins/dev1'),
 r(GET => '/twins/x1')]
--- response_body_like eval
[undef, undef, undef,
 qr/^\{"deviceId":"dev1","etag":"AAAAAAAAAAE=","deviceEtag":"[^"]+","status":"disabled","statusUpdateTime":$TS,"connectionState":"Disconnected","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,"authenticationType":"sas",/,
 qr/^\{"deviceId":"x1",.*"authenticationType":"selfSigned","x509Thumbprint":\{"primaryThumbprint":"0123456789abcdef0123456789abcdef01234567","secondaryThumbprint":null\},/]



=== TEST 17: the twin's cloudToDeviceMessageCount is the queue's length, as GET /devices/{id} says
--- request eval
[put_device('dev1'),
 r(POST => '/devices/dev1/messages/devicebound', 'one'),
 r(POST => '/devices/dev1/messages/devicebound', 'two'),
 r(GET => '/devices/dev1'),
 r(GET => '/twins/dev1')]
--- error_code eval
[200, 204, 204, 200, 200]
--- response_body_like eval
[undef, undef, undef,
 qr/"cloudToDeviceMessageCount":2,/,
 qr/^\{"deviceId":"dev1",.*"cloudToDeviceMessageCount":2,"authenticationType":"sas",/]
