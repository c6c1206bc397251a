# The query language over REST (reference/rest.md 9): POST /devices/query
# over twins created and patched through REST, SELECT * and projections,
# case-insensitive identity fields, aggregates with and without GROUP BY,
# devices.modules, paging with x-ms-max-item-count and x-ms-continuation
# (present only when more rows exist), TOP across pages, x-ms-item-type,
# the error envelope for bad queries, bodies and tokens, and the
# registry_read right.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http));

our $V = 'api-version=2021-04-12';
our $JSON_CT = 'Content-Type: application/json; charset=utf-8';

sub qry {
    my ($sql, %o) = @_;
    (my $json = $sql) =~ s/(["\\])/\\$1/g;
    return {method => 'POST', path => "/devices/query?$V",
            body => qq({"query":"$json"}), %o};
}

sub patch {
    my ($dev, $body) = @_;
    return {method => 'PATCH', path => "/twins/$dev?$V", body => $body,
            headers => {'If-Match' => '"*"'}};
}

# five devices; d1..d4 tagged, d5 disabled and untagged, d2 has two modules
sub fleet {
    return (put_device('d1'), put_device('d2'), put_device('d3'),
            put_device('d4'), put_device('d5', status => 'disabled'),
            put_module('d2', 'mb'), put_module('d2', 'ma'),
            patch(d1 => '{"tags":{"region":"US","floor":3},"properties":{"desired":{"interval":30}}}'),
            patch(d2 => '{"tags":{"region":"EU","floor":1}}'),
            patch(d3 => '{"tags":{"region":"US","floor":1}}'),
            patch(d4 => '{"tags":{"region":"US"},"properties":{"desired":{"interval":60}}}'));
}

sub error_re {
    my ($code, $text) = @_;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$text\E[^"]*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:[^"]+"\}$/;
}

# a continuation token of this text (base64url, no padding)
sub token {
    require MIME::Base64;
    (my $t = MIME::Base64::encode_base64(shift, '')) =~ tr{+/=}{-_}d;
    return $t;
}

# POSTs the query page after page until no continuation comes; returns the
# bodies and the tokens
sub pages {
    my ($sql, $size) = @_;
    my $auth = Test::IotHub::SAS::auth_header('iothubowner');
    (my $json = $sql) =~ s/(["\\])/\\$1/g;
    my $body = qq({"query":"$json"});
    my (@bodies, @tokens, $token);
    for (1 .. 20) {
        my $r = http_request(POST => "/devices/query?$V",
                             [[Host => 'localhost'], [Connection => 'close'],
                              [Authorization => $auth],
                              ['Content-Type' => 'application/json'],
                              ['Content-Length' => length $body],
                              ['x-ms-max-item-count' => $size],
                              (defined $token
                               ? (['x-ms-continuation' => $token]) : ())],
                             $body);
        Test::More::is($r->{status}, 200, "page " . (@bodies + 1) . " is 200");
        push @bodies, $r->{body};
        $token = $r->{headers}{'x-ms-continuation'}[0];
        last unless defined $token;
        push @tokens, $token;
    }
    return (\@bodies, \@tokens);
}

run_tests();

__DATA__

=== TEST 1: SELECT * with a tag condition: whole twins in device id order, item type Twin, no continuation
--- request eval
[fleet(), qry("SELECT * FROM devices WHERE tags.region = 'US' AND tags.floor = 1")]
--- response_body_like eval
[(undef) x 11, qr/^\[\{"deviceId":"d3","etag":"AAAAAAAAAAI=",.*"tags":\{"region":"US","floor":1\},"properties":\{"desired":\{.*\},"reported":\{.*\}\},"capabilities":\{"iotEdge":false\}\}\]$/]
--- response_headers eval
[(undef) x 11, "$JSON_CT\nx-ms-item-type: Twin\n!x-ms-continuation"]
--- no_error_log
[error]



=== TEST 2: projections, aliases, identity fields in any case, IN, NOT, IS_DEFINED, arithmetic
--- request eval
[fleet(),
 qry("SELECT DeviceId, Status FROM devices WHERE NOT (STATUS = 'enabled')"),
 qry("SELECT deviceId AS id, tags.floor FROM devices WHERE deviceId IN ['d2', 'd3', 'dx']"),
 qry("SELECT deviceId FROM devices WHERE IS_DEFINED(properties.desired.interval) AND properties.desired.interval * 2 >= 100"),
 qry("SELECT deviceId FROM devices WHERE tags.region NIN ['US'] OR tags.floor <> 1")]
--- response_body eval
[(undef) x 11,
 '[{"deviceId":"d5","status":"disabled"}]',
 '[{"id":"d2","floor":1},{"id":"d3","floor":1}]',
 '[{"deviceId":"d4"}]',
 '[{"deviceId":"d1"},{"deviceId":"d2"}]']
--- response_headers eval
[(undef) x 11, ("x-ms-item-type: Raw\n!x-ms-continuation") x 4]



=== TEST 3: aggregates: COUNT, SUM, AVG, MIN, MAX, GROUP BY; one page
--- request eval
[fleet(),
 qry("SELECT COUNT() AS total FROM devices"),
 qry("SELECT COUNT() AS n, SUM(tags.floor) AS s, AVG(properties.desired.interval) AS a, MIN(tags.floor) AS lo, MAX(tags.floor) AS hi FROM devices WHERE status = 'enabled'"),
 {%{qry("SELECT tags.region AS region, COUNT() AS n FROM devices GROUP BY tags.region")},
  headers => {'x-ms-max-item-count' => 1}}]
--- response_body eval
[(undef) x 11,
 '[{"total":5}]',
 '[{"n":4,"s":5,"a":45,"lo":1,"hi":3}]',
 '[{"region":"US","n":3},{"region":"EU","n":1},{"n":1}]']
--- response_headers eval
[(undef) x 11, ("x-ms-item-type: Raw\n!x-ms-continuation") x 3]



=== TEST 4: devices.modules: module twins with moduleId, in module order; devices.jobs is empty
--- request eval
[fleet(),
 qry("SELECT deviceId, moduleId FROM devices.modules"),
 qry("SELECT * FROM devices.modules WHERE moduleId = 'mb'"),
 qry("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'job1'")]
--- response_body_like eval
[(undef) x 11,
 qr/^\[\{"deviceId":"d2","moduleId":"ma"\},\{"deviceId":"d2","moduleId":"mb"\}\]$/,
 qr/^\[\{"deviceId":"d2","moduleId":"mb","etag":/,
 qr/^\[\]$/]
--- response_headers eval
[(undef) x 11, "x-ms-item-type: Raw", "x-ms-item-type: Twin",
 "x-ms-item-type: DeviceJob\n!x-ms-continuation"]



=== TEST 5: paging: pages of 2 over 5 devices, a continuation only while more rows exist
--- request eval
[fleet()]
--- mqtt eval
[[perl => sub {
    my ($bodies, $tokens) = main::pages("SELECT deviceId FROM devices", 2);
    Test::More::is_deeply($bodies,
        ['[{"deviceId":"d1"},{"deviceId":"d2"}]',
         '[{"deviceId":"d3"},{"deviceId":"d4"}]',
         '[{"deviceId":"d5"}]'], 'three pages');
    Test::More::is(scalar @$tokens, 2, 'two continuations');
    Test::More::like($_, qr/^[A-Za-z0-9_-]+$/, 'an opaque token') for @$tokens;

    # the last matching row ends a page: no continuation, no empty page
    ($bodies, $tokens) = main::pages("SELECT deviceId FROM devices WHERE tags.region = 'US'", 3);
    Test::More::is_deeply($bodies, ['[{"deviceId":"d1"},{"deviceId":"d3"},{"deviceId":"d4"}]'],
                          'a full last page has no continuation');

    # TOP counts across pages
    ($bodies, $tokens) = main::pages("SELECT TOP 3 deviceId FROM devices", 2);
    Test::More::is_deeply($bodies, ['[{"deviceId":"d1"},{"deviceId":"d2"}]',
                                    '[{"deviceId":"d3"}]'], 'TOP 3 in pages of 2');

    # module rows page inside one device
    ($bodies, $tokens) = main::pages("SELECT moduleId FROM devices.modules", 1);
    Test::More::is_deeply($bodies, ['[{"moduleId":"ma"}]', '[{"moduleId":"mb"}]'],
                          'modules one a page');
 }]]



=== TEST 6: bad queries, bodies and tokens: 400 with the error envelope naming the position
--- request eval
[qry("SELECT * FORM devices"),
 qry("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'd')"),
 qry("SELECT deviceId, COUNT() FROM devices"),
 {method => 'POST', path => "/devices/query?$V", body => 'not json'},
 {method => 'POST', path => "/devices/query?$V", body => '{"sql":"SELECT * FROM devices"}'},
 {%{qry("SELECT * FROM devices")}, headers => {'x-ms-continuation' => 'bm90IGEgdG9rZW4'}},
 {%{qry("SELECT * FROM devices")}, headers => {'x-ms-max-item-count' => 'zero'}},
 qry("SELECT * FROM devices WHERE deviceId = '" . ('x' x 8200) . "'")]
--- error_code eval
[(400) x 8]
--- response_body_like eval
[error_re('ArgumentInvalid', "syntax error at position 10 (near 'FORM'): expected FROM"),
 error_re('ArgumentInvalid', 'unsupported query at position 29'),
 error_re('ArgumentInvalid', 'unsupported query'),
 error_re('IotHubFormatError', 'the body is not a JSON object'),
 error_re('ArgumentNull', 'the body has no'),
 error_re('ArgumentInvalid', 'invalid x-ms-continuation token'),
 error_re('ArgumentInvalid', 'x-ms-max-item-count'),
 error_re('ArgumentInvalid', 'the query is longer than 8192 characters')]
--- response_headers eval
[("$JSON_CT\niothub-errorcode: ArgumentInvalid") x 3,
 'iothub-errorcode: IotHubFormatError', 'iothub-errorcode: ArgumentNull',
 ('iothub-errorcode: ArgumentInvalid') x 3]



=== TEST 7: rights: registry_read (or write) may query, service_connect may not (401, as the hub), no token is 401
--- request eval
[put_device('d1'),
 qry("SELECT COUNT() AS n FROM devices", auth => 'registryRead'),
 qry("SELECT COUNT() AS n FROM devices", auth => 'registryReadWrite'),
 qry("SELECT COUNT() AS n FROM devices", auth => 'service'),
 qry("SELECT COUNT() AS n FROM devices", auth => 'none'),
 {method => 'GET', path => "/devices/query?$V"}]
--- error_code eval
[200, 200, 200, 401, 401, 404]
--- response_body_like eval
[undef, '^\[\{"n":1\}\]$', '^\[\{"n":1\}\]$', 'IotHubUnauthorizedAccess',
 'IotHubUnauthorizedAccess', 'DeviceNotFound']



=== TEST 8: the tag index: built by the janitor for twins written before it, kept by twin writes, walked by tag equality queries
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;')
--- redis
HSET iothub:test:{d1}:device deviceId d1 status enabled etag MQ==
HSET iothub:test:{d1}:twin version 3 tags '{"region":"US","loc":{"b":"7"},"n":5,"l":["x"]}' desired {} reported {}
HSET iothub:test:{d2}:device deviceId d2 status enabled etag MQ==
HSET iothub:test:{d2}:twin version 3 tags '{"region":"EU"}' desired {} reported {}
ZADD iothub:test:devices 0 d1 0 d2
--- mqtt eval
my $P = 'iothub:test:';
my $Q = sub { {method => 'POST', path => "/devices/query?$main::V",
               body => qq({"query":"SELECT deviceId FROM devices WHERE $_[0]"})} };
[[redis => "EXISTS ${P}tagidx:ready", 1, 5],
 [redis => ['ZRANGE', "${P}tagidx:loc.b\n7", 0, -1], ['d1']],
 [redis => ['ZRANGE', "${P}tagidx:region\nUS", 0, -1], ['d1']],
 [redis => ['ZRANGE', "${P}tagidx:region\nEU", 0, -1], ['d2']],
 [redis => ['KEYS', "${P}tagidx:n\n*"], []],
 [redis => ['KEYS', "${P}tagidx:l\n*"], []],
 [request => $Q->("tags.loc.b = '7'"), 200, '[{"deviceId":"d1"}]'],

 # a write that bypasses twin_write.lua is not in the index: the query
 # walks the index, the same condition under OR walks every twin
 [redis => "HSET ${P}{d2}:twin tags {\"region\":\"US\"}"],
 [request => $Q->("tags.region = 'US'"), 200, '[{"deviceId":"d1"}]'],
 [request => $Q->("tags.region = 'US' OR false"), 200,
  '[{"deviceId":"d1"},{"deviceId":"d2"}]'],

 # twin writes move entries; stale ones are filtered by the condition
 [request => {method => 'PATCH', path => "/twins/d1?$main::V",
              body => '{"tags":{"region":"EU","loc":null}}'}, 200],
 [redis => ['ZRANGE', "${P}tagidx:region\nUS", 0, -1], []],
 [redis => ['ZRANGE', "${P}tagidx:region\nEU", 0, -1], ['d1', 'd2']],
 [redis => ['EXISTS', "${P}tagidx:loc.b\n7"], 0],
 [request => $Q->("tags.region = 'EU'"), 200, '[{"deviceId":"d1"}]'],

 # a deleted device's entries go when a query reads them
 [request => {method => 'DELETE', path => "/devices/d1?$main::V",
              headers => {'If-Match' => '*'}}, 204],
 [request => $Q->("tags.region = 'EU'"), 200, '[]'],
 [redis => ['ZRANGE', "${P}tagidx:region\nEU", 0, -1], ['d2']]]
--- no_error_log
[error]



=== TEST 9: a hub of 450 devices: walks cross chunks of 200, counts, pages and TOP across them
--- request eval
my @bulk = map {
    my $from = $_ * 100 + 1;
    {method => 'POST', path => "/devices?$main::V",
     body => '[' . join(',', map { sprintf '{"id":"c%03d","importMode":"create"}', $_ }
                            $from .. $from + 99) . ']'}
} 0 .. 3;
my @more = map { sprintf '{"id":"c%03d","importMode":"create"}', $_ } 401 .. 450;
[@bulk, {method => 'POST', path => "/devices?$main::V", body => '[' . join(',', @more) . ']'},
 patch(c199 => '{"tags":{"k":"x"}}'), patch(c201 => '{"tags":{"k":"x"}}'),
 patch(c449 => '{"tags":{"k":"x"}}'),
 qry("SELECT COUNT() AS n FROM devices"),
 qry("SELECT deviceId FROM devices WHERE tags.k = 'x'"),
 {%{qry("SELECT deviceId FROM devices WHERE tags.k = 'x'")},
  headers => {'x-ms-max-item-count' => 2}}]
--- response_body eval
[(undef) x 8, '[{"n":450}]',
 '[{"deviceId":"c199"},{"deviceId":"c201"},{"deviceId":"c449"}]',
 '[{"deviceId":"c199"},{"deviceId":"c201"}]']
--- response_headers eval
[(undef) x 8, '!x-ms-continuation', '!x-ms-continuation', undef]
--- mqtt eval
[[perl => sub {
    my ($bodies) = main::pages("SELECT deviceId FROM devices WHERE tags.k = 'x' OR deviceId = 'c450'", 2);
    Test::More::is_deeply($bodies, ['[{"deviceId":"c199"},{"deviceId":"c201"}]',
                                    '[{"deviceId":"c449"},{"deviceId":"c450"}]'],
                          'pages across chunks');
    ($bodies) = main::pages("SELECT deviceId FROM devices", 1000);
    my @ids = map { /"deviceId":"(c\d+)"/g } @$bodies;
    Test::More::is(scalar @$bodies, 1, 'one page of 450');
    Test::More::is_deeply(\@ids, [map { sprintf 'c%03d', $_ } 1 .. 450], 'every id once, in order');
    ($bodies) = main::pages("SELECT TOP 250 deviceId FROM devices", 100);
    @ids = map { /"deviceId":"(c\d+)"/g } @$bodies;
    Test::More::is(scalar @$bodies, 3, 'TOP 250 in pages of 100: three pages');
    Test::More::is_deeply(\@ids, [map { sprintf 'c%03d', $_ } 1 .. 250], 'the first 250');
 }]]
--- no_error_log
[error]



=== TEST 10: Redis down: 503 ServiceUnavailable, then queries work again
--- request eval
[put_device('d1'), "REDIS STOP", qry("SELECT * FROM devices"), "REDIS START",
 "SLEEP 1.5", qry("SELECT COUNT() AS n FROM devices")]
--- error_code eval
[200, 503, 200]
--- response_body_like eval
[undef, error_re('ServiceUnavailable', ''), '^\[\{"n":0\}\]$']



=== TEST 11: continuation tokens at the length limit: 372 characters decode to 279 bytes (a 21-digit count with leading zeros, two 128-character ids), read whole (was a stack overflow by one byte: make test-asan); one more character, a count over 2^63-1 or an id too long is 400
--- request eval
my $ids = "\n" . ('a' x 128) . "\n" . ('b' x 128);
[put_device('d1'),
 {%{qry("SELECT deviceId FROM devices")},
  headers => {'x-ms-continuation' => token(('0' x 20) . "1$ids")}},
 {%{qry("SELECT deviceId FROM devices")},
  headers => {'x-ms-continuation' => token(('0' x 20) . "1$ids") . 'A'}},
 {%{qry("SELECT deviceId FROM devices")},
  headers => {'x-ms-continuation' => token("9223372036854775808$ids")}},
 {%{qry("SELECT deviceId FROM devices")},
  headers => {'x-ms-continuation' => token("1$ids" . 'b')}}]
--- error_code eval
[200, 200, 400, 400, 400]
--- response_body_like eval
[undef, '^\[',
 (error_re('ArgumentInvalid', 'invalid x-ms-continuation token')) x 3]
--- no_error_log
[error]
