# Sanity checks of the test harness (t/lib/Test/IotHub.pm) itself, with
# stock nginx directives, then the smallest configurations of our modules
# (those blocks skip until build/modules holds the .so files).

use lib 't/lib';
use Test::IotHub;
use IO::Socket::INET;

# SAS signing against the worked example of reference/auth.md 3.2.
my $key = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
is(sas_token(resource => 'myhub.example.com/devices/dev1', key => $key,
             expiry => 1700000000),
   'SharedAccessSignature sr=myhub.example.com%2Fdevices%2Fdev1'
   . '&sig=x59qEYvWOPCM%2F1RF5WJEUtJ%2B70PVYp13Pi6uMS1oI38%3D&se=1700000000',
   'device token matches auth.md');
like(sas_token(resource => 'myhub.example.com', policy => 'iothubowner',
               key => $key, expiry => 1700000000),
     qr/&sig=Mb7%2BgReZMfPINAAgHTWGHOpA2CS8UgkuJdnMnLjP67s%3D&se=1700000000&skn=iothubowner$/,
     'policy token matches auth.md');

# A listener that never accepts: requests proxied to it time out.
my $sink = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 5) or die "listen: $!";
our $SINK_PORT = $sink->sockport;

run_tests();

__DATA__

=== TEST 1: stock return, no iothub block
--- main_config
--- config
location /x { return 200 "ok"; }
--- request
GET /x
--- response_body: ok
--- response_headers
Content-Type: text/plain
!ETag
--- response_headers_like
Server: ^nginx



=== TEST 2: request body, headers, auth header and several requests
--- main_config
--- http_config
log_format t '$http_authorization|$http_x_test|$request_body';
--- config
location /echo {
    access_log logs/echo.log t;
    proxy_pass http://127.0.0.1:$TEST_NGINX_PORT/sink;
}
location /sink { return 200 "$http_authorization|$http_x_test|$http_content_type"; }
location /missing { return 404; }
--- more_headers
X-Test: yes
--- request eval
["GET /sink",
 {method => 'POST', path => '/echo', body => '{"a":1}', auth => 'none'},
 "SLEEP 0.1",
 "GET /missing",
 {method => 'GET', path => '/sink', auth => 'device:dev1',
  headers => {'X-Test' => 'override'}}]
--- error_code eval
[200, 200, 404, 200]
--- response_body_like eval
[qr/^SharedAccessSignature sr=localhost&sig=[^&]+&se=\d+&skn=iothubowner\|yes\|$/,
 qr/^\|yes\|application\/json; charset=utf-8$/,
 qr/404 Not Found/,
 qr/^SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=[^&]+&se=\d+\|override\|$/]



=== TEST 3: Redis seeding and checks, REDIS STOP / START
--- main_config
--- config
location /x { return 204; }
--- redis
SET greeting "hello\nworld"
RPUSH q a b c
HSET h f 'v 1'
--- request eval
["GET /x", "REDIS STOP", "REDIS START", "GET /x"]
--- error_code: 204
--- redis_check
GET greeting => (nil)
DBSIZE => 0
RPUSH q a b => 2
LRANGE q 0 -1 => [a, b]
INCR q =~ WRONGTYPE
--- error_log
GET /x HTTP/1.1



=== TEST 4: $TEST_* variables in text and eval sections
--- main_config
--- config
location /x { return 200 "$TEST_REDIS_PORT"; }
--- redis
SET k1 v1
--- request
GET /x
--- response_body eval
$TEST_REDIS_PORT



=== TEST 5: no_flush keeps the data of the previous block
--- main_config
--- config
location /x { return 200; }
--- no_flush
--- redis
SET k2 v2
--- request
GET /x
--- redis_check
MGET k1 k2 => [v1, v2]



=== TEST 6: stream server and two workers
--- workers: 2
--- main_config
--- config
location /s { proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/x; }
location /x { return 200 "stream"; }
--- stream_server_config
proxy_pass 127.0.0.1:$TEST_NGINX_PORT;
--- request
GET /s
--- response_body: stream
--- error_log eval
# valgrind runs use master_process off: no workers
$ENV{TEST_IOTHUB_VALGRIND} ? []
    : [qr/start worker process \d+\n(?s:.*)start worker process \d+\n/]
--- no_error_log
[error]



=== TEST 7: a bad directive makes nginx -t fail
--- main_config
--- config
location /x { retrun 200; }
--- must_die
--- error_log
unknown directive "retrun"



=== TEST 8: raw request
--- main_config
--- config
location /x { return 200 "raw"; }
--- raw_request eval
"GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body: raw



=== TEST 9: a request that gets no answer reports "timeout"
--- main_config
--- config eval
"location /slow { proxy_read_timeout 2s; proxy_pass http://127.0.0.1:$SINK_PORT; }"
--- request
GET /slow
--- timeout: 0.3
--- error_code: timeout



=== TEST 10: default configuration with our modules answers statistics
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like: ^\{"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0\}$



=== TEST 11: unauthenticated REST call is refused
--- request
GET /statistics/devices?api-version=2021-04-12
--- auth: none
--- error_code: 401



=== TEST 12: auth modes of the harness: expired, forged, another policy
--- request eval
[map { +{method => 'GET', auth => $_,
        path => '/statistics/devices?api-version=2021-04-12'} }
     qw(expired forged registryRead)]
--- error_code eval
[401, 401, 200]



=== TEST 13: invalid redis_database is rejected at configuration time
--- main_config eval
iothub_block(extra => 'redis_database -1;')
--- must_die
--- error_log
"redis_database" directive invalid
