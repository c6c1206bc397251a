# Identity registry, devices (reference/rest.md 1-3 and 6): create, get,
# update and delete with If-Match, list, statistics, and the error
# envelope of every failure.

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

# keep('x') matches a body's etag and remembers it as $SAW{x}; gen('x')
# does the same for the generationId, as $SAW{'x.gen'}.
our %SAW;
sub keep { my $n = shift; qr/"etag":"([A-Za-z0-9+\/]+=*)"(?{ $main::SAW{$n} = $^N })/ }
sub gen { my $n = shift; qr/"generationId":"(\d{18})"(?{ $main::SAW{"$n.gen"} = $^N })/ }

# The request spec: api-version added; a body given as text.
our $V = 'api-version=2021-04-12';
sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => $path . ($path =~ /\?/ ? '&' : '?') . $V,
            (defined $body ? (body => $body) : ()), %o};
}
sub if_match { my $v = shift; return (headers => {'If-Match' => $v}) }

our $NEVER = '0001-01-01T00:00:00Z';
our $KEY32 = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
our $KEY17 = 'MDEyMzQ1Njc4OWFiY2RlZmc=';
our $TP1 = '0123456789abcdef0123456789abcdef01234567';
our $TP2 = 'ABCDEF0123456789' x 4;
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';

# The legacy error envelope of rest.md 2.1; $text starts the message after
# "ErrorCode:<code>;".
sub error_re {
    my ($code, $text) = @_;
    (my $json = defined $text ? $text : '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d"\}$/;
}

run_tests();

__DATA__

=== TEST 1: create with generated keys: every field of the device JSON
--- request eval
r(PUT => '/devices/d1', '{"deviceId":"d1"}')
--- response_body_like eval
my $k = qr{[A-Za-z0-9+/]{43}=};
qr/^\{"deviceId":"d1",${\ gen('d1')},${\ keep('d1')},"connectionState":"Disconnected","status":"enabled","statusReason":null,"connectionStateUpdatedTime":"\Q$NEVER\E","statusUpdatedTime":"\Q$NEVER\E","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,"authentication":\{"symmetricKey":\{"primaryKey":"($k)","secondaryKey":"(?!\3")$k"\},"x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"type":"sas"\},"capabilities":\{"iotEdge":false\},"deviceScope":null,"parentScopes":\[\]\}$/
--- response_headers eval
later { "$JSON_CT\nETag: \"$SAW{d1}\"\n!iothub-errorcode" }
--- redis_check
HGET iothub:test:{d1}:device deviceId => d1
HGET iothub:test:{d1}:device status => enabled
HGET iothub:test:{d1}:device authType => sas
HGET iothub:test:{d1}:device primaryKey =~ ^[A-Za-z0-9+/]{43}=$
ZRANGE iothub:test:devices 0 -1 => [d1]
SISMEMBER iothub:test:disabled d1 => 0
HGET iothub:test:{d1}:twin version => 1
--- no_error_log
[error]



=== TEST 2: create with an empty body: generated keys, id from the path
--- request eval
r(PUT => '/devices/d2', '{}')
--- response_body_like: ^\{"deviceId":"d2",.*"primaryKey":"[A-Za-z0-9+/]{43}=","secondaryKey":"[A-Za-z0-9+/]{43}=".*"type":"sas"



=== TEST 3: create with empty key strings (what the Node SDK sends): keys generated
--- request eval
r(PUT => '/devices/d3', '{"deviceId":"d3","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}}')
--- response_body_like: "symmetricKey":\{"primaryKey":"[A-Za-z0-9+/]{43}=","secondaryKey":"[A-Za-z0-9+/]{43}="\}



=== TEST 4: explicit keys are echoed and stored; GET returns them
--- request eval
[r(PUT => '/devices/k1', qq{{"deviceId":"k1","authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}}),
 r(GET => '/devices/k1')]
--- response_body_like eval
qr/^\{"deviceId":"k1",.*"authentication":\{"symmetricKey":\{"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"\},"x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"type":"sas"\}/
--- redis_check eval
[["HGET iothub:test:{k1}:device primaryKey", $KEY32],
 ["HGET iothub:test:{k1}:device secondaryKey", $KEY17]]



=== TEST 5: x509 selfSigned with thumbprints: no keys
--- request eval
[r(PUT => '/devices/x1', qq{{"deviceId":"x1","authentication":{"type":"selfSigned","symmetricKey":{"primaryKey":"$KEY32"},"x509Thumbprint":{"primaryThumbprint":"$TP1","secondaryThumbprint":"$TP2"}}}}),
 r(GET => '/devices/x1')]
--- response_body_like eval
qr/^\{"deviceId":"x1",.*"authentication":\{"symmetricKey":\{"primaryKey":null,"secondaryKey":null\},"x509Thumbprint":\{"primaryThumbprint":"$TP1","secondaryThumbprint":"$TP2"\},"type":"selfSigned"\}/
--- redis_check
HGET iothub:test:{x1}:device authType => selfSigned
HGET iothub:test:{x1}:device primaryKey => 
EXISTS iothub:test:{x1}:twin => 1



=== TEST 6: a primary thumbprint alone makes the type selfSigned
--- request eval
r(PUT => '/devices/x2', qq{{"authentication":{"x509Thumbprint":{"primaryThumbprint":"$TP1"}}}})
--- response_body_like eval
qr/"x509Thumbprint":\{"primaryThumbprint":"$TP1","secondaryThumbprint":null\},"type":"selfSigned"\}/



=== TEST 7: certificateAuthority and none: neither keys nor thumbprints
--- request eval
[r(PUT => '/devices/ca1', qq{{"authentication":{"type":"certificateAuthority","x509Thumbprint":{"primaryThumbprint":"$TP1"}}}}),
 r(PUT => '/devices/n1', '{"authentication":{"type":"none"}}'),
 r(GET => '/devices/ca1')]
--- response_body_like eval
[map { qr/"authentication":\{"symmetricKey":\{"primaryKey":null,"secondaryKey":null\},"x509Thumbprint":\{"primaryThumbprint":null,"secondaryThumbprint":null\},"type":"$_"\}/ }
     qw(certificateAuthority none certificateAuthority)]



=== TEST 8: create disabled, with a reason, an Edge device with scopes
--- request eval
r(PUT => '/devices/e1', '{"deviceId":"e1","status":"Disabled","statusReason":"maintenance","capabilities":{"iotEdge":true},"deviceScope":"ms-azure-iot-edge://e1-1","parentScopes":["ms-azure-iot-edge://p-2"]}')
--- response_body_like eval
qr/^\{"deviceId":"e1",.*"status":"disabled","statusReason":"maintenance",.*"capabilities":\{"iotEdge":true\},"deviceScope":"ms-azure-iot-edge:\/\/e1-1","parentScopes":\["ms-azure-iot-edge:\/\/p-2"\]\}$/
--- redis_check
SISMEMBER iothub:test:disabled e1 => 1
HGET iothub:test:{e1}:device iotEdge => 1



=== TEST 9: GET answers the stored device; ETag header equals the body's etag
--- request eval
[r(PUT => '/devices/g1', '{"deviceId":"g1"}'),
 r(GET => '/devices/g1')]
--- response_body_like eval
[qr/^\{"deviceId":"g1",${\ gen('g1')},${\ keep('g1')},/,
 qr/^\{"deviceId":"g1","generationId":"(??{ $main::SAW{'g1.gen'} })","etag":"(??{ quotemeta $main::SAW{g1} })","connectionState":"Disconnected",/]
--- response_headers eval
[later { "$JSON_CT\nETag: \"$SAW{g1}\"" }, later { "$JSON_CT\nETag: \"$SAW{g1}\"" }]



=== TEST 10: GET answers a device seeded in Redis, with its etag in the header
--- redis
HSET iothub:test:{s1}:device deviceId s1 generationId 638401234567890123 etag MTIzNDU2 status enabled connectionState Disconnected authType sas primaryKey MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= secondaryKey MDEyMzQ1Njc4OWFiY2RlZmc=
ZADD iothub:test:devices 0 s1
--- request eval
r(GET => '/devices/s1')
--- response_body_like eval
qr/^\{"deviceId":"s1","generationId":"638401234567890123","etag":"MTIzNDU2",.*"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/
--- response_headers
ETag: "MTIzNDU2"
Content-Type: application/json; charset=utf-8



=== TEST 11: PUT of an existing device without If-Match: 409 DeviceAlreadyExists, device kept
--- request eval
[r(PUT => '/devices/d1', '{"deviceId":"d1"}'),
 r(PUT => '/devices/d1', '{"deviceId":"d1","status":"disabled"}'),
 r(GET => '/devices/d1')]
--- error_code eval
[200, 409, 200]
--- response_body_like eval
[keep('d1'),
 error_re('DeviceAlreadyExists', 'Device d1 already exists'),
 qr/"etag":"(??{ quotemeta $main::SAW{d1} })","connectionState":"Disconnected","status":"enabled"/]
--- response_headers eval
[undef, "iothub-errorcode: DeviceAlreadyExists\n$JSON_CT\n!ETag", undef]



=== TEST 12: update with If-Match "*": new etag, status change, same generationId
--- request eval
[r(PUT => '/devices/u1', '{"deviceId":"u1"}'),
 r(PUT => '/devices/u1', '{"deviceId":"u1","status":"disabled","statusReason":"stolen"}', if_match('"*"')),
 r(GET => '/devices/u1')]
--- response_body_like eval
[qr/${\ gen('u1')},${\ keep('u1')}/,
 qr/^\{"deviceId":"u1","generationId":"(??{ $main::SAW{'u1.gen'} })",(?!"etag":"(??{ quotemeta $main::SAW{u1} })")${\ keep('u1.new')},"connectionState":"Disconnected","status":"disabled","statusReason":"stolen","connectionStateUpdatedTime":"0001-01-01T00:00:00Z","statusUpdatedTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z",/,
 qr/"etag":"(??{ quotemeta $main::SAW{'u1.new'} })",.*"status":"disabled","statusReason":"stolen"/]
--- response_headers eval
[undef, later { "$JSON_CT\nETag: \"$SAW{'u1.new'}\"" }, undef]
--- redis_check
SISMEMBER iothub:test:disabled u1 => 1
HGET iothub:test:{u1}:device status => disabled



=== TEST 13: update keeps the keys when the body repeats them, replaces them when it gives new ones
--- request eval
[r(PUT => '/devices/u2', qq{{"authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}}),
 r(PUT => '/devices/u2', qq{{"authentication":{"symmetricKey":{"primaryKey":"$KEY17","secondaryKey":"$KEY32"}}}}, if_match('"*"'))]
--- response_body_like eval
[qr/"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E"/,
 qr/"primaryKey":"\Q$KEY17\E","secondaryKey":"\Q$KEY32\E"/]



=== TEST 14: update with the current etag, quoted, then W/-prefixed, then bare
--- request eval
[r(PUT => '/devices/u3', '{}'),
 r(PUT => '/devices/u3', '{"status":"disabled"}', if_match(later { qq{"$SAW{a}"} })),
 r(PUT => '/devices/u3', '{"status":"enabled"}', if_match(later { qq{W/"$SAW{b}"} })),
 r(PUT => '/devices/u3', '{"status":"disabled"}', if_match(later { $SAW{c} }))]
--- response_body_like eval
[keep('a'),
 qr/${\ keep('b')},"connectionState":"Disconnected","status":"disabled"/,
 qr/${\ keep('c')},"connectionState":"Disconnected","status":"enabled"/,
 qr/"etag":"(?!(??{ quotemeta $main::SAW{c} })")[^"]+","connectionState":"Disconnected","status":"disabled"/]
--- redis_check
HGET iothub:test:{u3}:device status => disabled



=== TEST 15: update with a stale etag: 412 PreconditionFailed, device unchanged
--- request eval
[r(PUT => '/devices/u4', '{}'),
 r(PUT => '/devices/u4', '{"status":"disabled"}', if_match('"*"')),
 r(PUT => '/devices/u4', '{"status":"enabled"}', if_match(later { qq{"$SAW{old}"} })),
 r(PUT => '/devices/u4', '{"status":"enabled"}', if_match('"bm90LXRoZS1ldGFn"')),
 r(GET => '/devices/u4')]
--- error_code eval
[200, 200, 412, 412, 200]
--- response_body_like eval
[keep('old'), keep('new'),
 error_re('PreconditionFailed'), error_re('PreconditionFailed'),
 qr/"etag":"(??{ quotemeta $main::SAW{new} })","connectionState":"Disconnected","status":"disabled"/]
--- response_headers eval
[undef, undef, "iothub-errorcode: PreconditionFailed\n$JSON_CT",
 "iothub-errorcode: PreconditionFailed", undef]
--- redis_check
SISMEMBER iothub:test:disabled u4 => 1



=== TEST 16: update of a missing device: 404 DeviceNotFound, nothing created
--- request eval
[r(PUT => '/devices/ghost', '{"deviceId":"ghost"}', if_match('"*"')),
 r(PUT => '/devices/ghost', '{}', if_match('"MTIz"'))]
--- error_code: 404
--- response_body_like eval
error_re('DeviceNotFound', 'Device ghost not registered')
--- response_headers
iothub-errorcode: DeviceNotFound
--- redis_check
EXISTS iothub:test:{ghost}:device => 0
EXISTS iothub:test:devices => 0



=== TEST 17: DELETE with If-Match "*": 204, then GET is 404 DeviceNotFound
--- request eval
[r(PUT => '/devices/d1', '{}'),
 r(DELETE => '/devices/d1', undef, if_match('"*"')),
 r(GET => '/devices/d1')]
--- error_code eval
[200, 204, 404]
--- response_body eval
[undef, '', undef]
--- response_body_like eval
[undef, undef, qr/^\{"Message":"ErrorCode:DeviceNotFound;Device d1 not registered","ExceptionMessage":"Tracking ID:/]
--- response_headers eval
[undef, "!ETag\n!iothub-errorcode", "iothub-errorcode: DeviceNotFound\n$JSON_CT"]
--- redis_check
EXISTS iothub:test:{d1}:device => 0
EXISTS iothub:test:{d1}:twin => 0
ZSCORE iothub:test:devices d1 => (nil)



=== TEST 18: DELETE without If-Match is unconditional; a disabled device leaves the disabled set
--- request eval
[r(PUT => '/devices/d5', '{"status":"disabled"}'),
 r(DELETE => '/devices/d5')]
--- error_code eval
[200, 204]
--- redis_check
EXISTS iothub:test:{d5}:device => 0
SISMEMBER iothub:test:disabled d5 => 0



=== TEST 19: DELETE of a missing device: 404 DeviceNotFound
--- request eval
[r(DELETE => '/devices/nope', undef, if_match('"*"')),
 r(DELETE => '/devices/nope')]
--- error_code: 404
--- response_body_like eval
error_re('DeviceNotFound', 'Device nope not registered')
--- response_headers
iothub-errorcode: DeviceNotFound



=== TEST 20: DELETE with a stale etag: 412 and the device stays; with its etag: 204
--- request eval
[r(PUT => '/devices/d6', '{}'),
 r(DELETE => '/devices/d6', undef, if_match('"c3RhbGU="')),
 r(GET => '/devices/d6'),
 r(DELETE => '/devices/d6', undef, if_match(later { qq{"$SAW{d6}"} })),
 r(GET => '/devices/d6')]
--- error_code eval
[200, 412, 200, 204, 404]
--- response_body_like eval
[keep('d6'), error_re('PreconditionFailed'), qr/"deviceId":"d6"/, qr/^$/,
 error_re('DeviceNotFound')]



=== TEST 21: list in id order, with and without a trailing slash, and top
--- request eval
[r(GET => '/devices'),
 (map { r(PUT => "/devices/$_", '{}') } qw(c a b B)),
 r(GET => '/devices'),
 r(GET => '/devices/'),
 r(GET => '/devices?top=1'),
 r(GET => '/devices?top=3'),
 r(GET => '/devices?top=1000')]
--- response_body_like eval
my $four = qr/^\[\{"deviceId":"B",[^\[]*\[\]\},\{"deviceId":"a",[^\[]*\[\]\},\{"deviceId":"b",[^\[]*\[\]\},\{"deviceId":"c",[^\[]*\[\]\}\]$/;
[qr/^\[\]$/, (qr/^\{"deviceId":"/) x 4, $four, $four,
 qr/^\[\{"deviceId":"B",[^\[]*\[\]\}\]$/,
 qr/^\[\{"deviceId":"B",[^\[]*\[\]\},\{"deviceId":"a",[^\[]*\[\]\},\{"deviceId":"b",[^\[]*\[\]\}\]$/,
 $four]
--- response_headers
Content-Type: application/json; charset=utf-8



=== TEST 22: list: top out of range or not a number: 400 ArgumentInvalid
--- request eval
[map { r(GET => "/devices?top=$_") } qw(0 1001 -1 abc)]
--- error_code: 400
--- response_body_like eval
error_re('ArgumentInvalid', 'top must be a number from 1 to 1000')
--- response_headers
iothub-errorcode: ArgumentInvalid



=== TEST 23: list answers the stored fields of every device
--- request eval
[r(PUT => '/devices/l1', qq{{"authentication":{"symmetricKey":{"primaryKey":"$KEY32","secondaryKey":"$KEY17"}}}}),
 r(PUT => '/devices/l2', '{"status":"disabled"}'),
 r(GET => '/devices')]
--- response_body_like eval
[keep('l1'), keep('l2'),
 qr/^\[\{"deviceId":"l1","generationId":"\d{18}","etag":"(??{ quotemeta $main::SAW{l1} })",.*"primaryKey":"\Q$KEY32\E","secondaryKey":"\Q$KEY17\E".*\},\{"deviceId":"l2","generationId":"\d{18}","etag":"(??{ quotemeta $main::SAW{l2} })","connectionState":"Disconnected","status":"disabled",.*\}\]$/]



=== TEST 24: body that is not JSON: 400 IotHubFormatError
--- request eval
[r(PUT => '/devices/j1', '{"deviceId":'),
 r(PUT => '/devices/j1', '{"deviceId":"j1",}'),
 r(PUT => '/devices/j1', "{\"deviceId\":\"j1\xff\"}"),
 r(PUT => '/devices/j1', 'deviceId=j1')]
--- error_code: 400
--- response_body_like eval
error_re('IotHubFormatError', 'the body is not valid JSON')
--- response_headers
iothub-errorcode: IotHubFormatError
--- redis_check
EXISTS iothub:test:{j1}:device => 0



=== TEST 25: wrong field types and values: 400 ArgumentInvalid, nothing stored
--- request eval
[map { r(PUT => '/devices/w1', $_) }
     '{"status":1}',
     '{"status":"paused"}',
     '{"statusReason":true}',
     '{"statusReason":"' . ('r' x 129) . '"}',
     '{"authentication":"sas"}',
     '{"authentication":{"type":"password"}}',
     '{"authentication":{"symmetricKey":{"primaryKey":5}}}',
     '{"authentication":{"symmetricKey":{"primaryKey":"not*base64"}}}',
     '{"authentication":{"symmetricKey":{"primaryKey":"c2hvcnQ="}}}',
     '{"authentication":{"type":"selfSigned"}}',
     '{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"abc"}}}',
     '{"capabilities":{"iotEdge":"yes"}}',
     '{"capabilities":true}',
     '{"parentScopes":"x"}',
     '{"parentScopes":[1]}',
     '{"deviceId":7}',
     '["w1"]',
     '"w1"']
--- error_code: 400
--- response_body_like eval
error_re('ArgumentInvalid')
--- response_headers
iothub-errorcode: ArgumentInvalid
--- redis_check
EXISTS iothub:test:{w1}:device => 0
EXISTS iothub:test:devices => 0



=== TEST 26: deviceId in the body differs from the path: 400
--- request eval
[r(PUT => '/devices/p1', '{"deviceId":"p2"}'),
 r(PUT => '/devices/p1', '{"deviceId":"P1"}'),
 r(PUT => '/devices/p1', '{}'),
 r(PUT => '/devices/p1', '{"deviceId":"p2","status":"disabled"}', if_match('"*"'))]
--- error_code eval
[400, 400, 200, 400]
--- response_body_like eval
[error_re('ArgumentInvalid', 'the id in the body differs from the id in the path'),
 error_re('ArgumentInvalid', 'the id in the body differs'),
 qr/^\{"deviceId":"p1",/,
 error_re('ArgumentInvalid', 'the id in the body differs')]
--- redis_check
EXISTS iothub:test:{p2}:device => 0
HGET iothub:test:{p1}:device status => enabled



=== TEST 27: invalid ids in the path: 400 ArgumentInvalid for PUT, GET and DELETE
--- request eval
my $long = 'a' x 129;
[r(PUT => "/devices/$long", '{}'),
 r(PUT => '/devices/a%5Eb', '{}'),
 r(GET => '/devices/a%5Eb'),
 r(DELETE => '/devices/a%20b', undef, if_match('"*"')),
 r(PUT => '/devices/a%7Bb%7D', '{}'),
 r(GET => "/devices/$long"),
 r(PUT => '/devices/' . ('a' x 128), '{}')]
--- error_code eval
[(400) x 6, 200]
--- response_body_like eval
[error_re('ArgumentInvalid', 'invalid id "' . ('a' x 129) . '"'),
 error_re('ArgumentInvalid', 'invalid id "a^b"'),
 error_re('ArgumentInvalid', 'invalid id "a^b"'),
 error_re('ArgumentInvalid', 'invalid id "a b"'),
 error_re('ArgumentInvalid', 'invalid id "a{b}"'),
 error_re('ArgumentInvalid', 'invalid id'),
 qr/^\{"deviceId":"a{128}",/]
--- redis_check
ZCARD iothub:test:devices => 1



=== TEST 28: unknown and read-only fields are ignored
--- request eval
r(PUT => '/devices/i1', '{"deviceId":"i1","connectionString":"HostName=x;DeviceId=i1;SharedAccessKey=abc","generationId":"123","etag":"forged","connectionState":"Connected","cloudToDeviceMessageCount":5,"lastActivityTime":"2024-01-01T00:00:00Z","statusUpdatedTime":7,"extra":{"a":[1,{"b":null}]},"tags":[],"STATUS":"disabled"}')
--- response_body_like eval
qr/^\{"deviceId":"i1",${\ gen('i1')},"etag":"(?!forged")[A-Za-z0-9+\/]+=*","connectionState":"Disconnected","status":"disabled","statusReason":null,"connectionStateUpdatedTime":"\Q$NEVER\E","statusUpdatedTime":"\Q$NEVER\E","lastActivityTime":"\Q$NEVER\E","cloudToDeviceMessageCount":0,/
--- redis_check
HGET iothub:test:{i1}:device connectionString => (nil)
HGET iothub:test:{i1}:device connectionState => Disconnected



=== TEST 29: percent-encoded ids round trip
--- request eval
[r(PUT => '/devices/a%23b', '{"deviceId":"a#b"}'),
 r(GET => '/devices/a%23b'),
 r(PUT => "/devices/x-.+%25_%2A%3F!(),=@\$'%3A", '{}'),
 r(GET => "/devices/x-.%2B%25_*%3F%21%28%29%2C%3D%40%24%27:"),
 r(GET => '/devices'),
 r(DELETE => '/devices/a%23b', undef, if_match('"*"')),
 r(GET => '/devices')]
--- error_code eval
[200, 200, 200, 200, 200, 204, 200]
--- response_body_like eval
[qr/^\{"deviceId":"a#b",/,
 qr/^\{"deviceId":"a#b",/,
 qr/^\{"deviceId":"x-\.\+%_\*\?!\(\),=@\$':",/,
 qr/^\{"deviceId":"x-\.\+%_\*\?!\(\),=@\$':",/,
 qr/^\[\{"deviceId":"a#b",.*\},\{"deviceId":"x-\.\+%_\*\?!\(\),=@\$':",.*\}\]$/,
 qr/^$/,
 qr/^\[\{"deviceId":"x-\.\+%_\*\?!\(\),=@\$':",.*\}\]$/]
--- redis_check
EXISTS iothub:test:{a#b}:device => 0
HGET iothub:test:{x-.+%_*?!(),=@$':}:device deviceId => x-.+%_*?!(),=@$':



=== TEST 30: statistics follow creates, status updates and deletes
--- request eval
my $stats = r(GET => '/statistics/devices');
[$stats,
 r(PUT => '/devices/e1', '{}'),
 r(PUT => '/devices/e2', '{"status":"enabled"}'),
 r(PUT => '/devices/x1', '{"status":"disabled"}'),
 $stats,
 r(PUT => '/devices/x1', '{"status":"enabled"}', if_match('"*"')),
 $stats,
 r(PUT => '/devices/e1', '{"status":"disabled"}', if_match('"*"')),
 $stats,
 r(PUT => '/devices/e1', '{"status":"disabled","statusReason":"still"}', if_match('"*"')),
 $stats,
 r(DELETE => '/devices/e2', undef, if_match('"*"')),
 $stats,
 r(DELETE => '/devices/e1', undef, if_match('"*"')),
 $stats]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 204, 200, 204, 200]
--- response_body_like eval
my $s = sub { my ($t, $e, $d) = @_;
  qr/^\{"totalDeviceCount":$t,"enabledDeviceCount":$e,"disabledDeviceCount":$d\}$/ };
[$s->(0, 0, 0), undef, undef, undef,
 $s->(3, 2, 1), undef,
 $s->(3, 3, 0), undef,
 $s->(3, 2, 1), undef,
 $s->(3, 2, 1), undef,
 $s->(2, 1, 1), undef,
 $s->(1, 1, 0)]
--- response_headers eval
my $st = "$JSON_CT\n!ETag";
[$st, undef, undef, undef, $st, undef, $st, undef, $st, undef, $st, undef,
 $st, undef, $st]
--- redis_check
SMEMBERS iothub:test:disabled => []
ZRANGE iothub:test:devices 0 -1 => [x1]



=== TEST 31: device ids are case-sensitive
--- request eval
[r(PUT => '/devices/Dev', '{}'),
 r(GET => '/devices/dev'),
 r(PUT => '/devices/dev', '{}'),
 r(GET => '/devices/Dev')]
--- error_code eval
[200, 404, 200, 200]
--- response_body_like eval
[qr/"deviceId":"Dev"/, error_re('DeviceNotFound'), qr/"deviceId":"dev"/,
 qr/"deviceId":"Dev"/]
