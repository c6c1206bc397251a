# Redis failures (docs/directives.md: redis_*; docs/redis-schema.md:
# scripts): requests fail fast with 503 ServiceUnavailable while Redis is
# down or stalled and work again once it is back; AUTH and SELECT; the
# script cache flushed behind the workers' backs.

use lib 't/lib';
use Test::IotHub;
use Time::HiRes ();

# Test::Base runs every eval section before the first block starts.  An
# action on Redis between two requests of a block is a Later object given
# as the request's path: the harness makes it text when it sends that
# request, after the earlier requests were answered.
package Later {
    use overload '""' => sub { $_[0]->() }, fallback => 1;
}
sub later(&) { bless $_[0], 'Later' }

our $V = 'api-version=2021-04-12';
sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}

# The request, sent right after Redis ran the command (e.g. CLIENT PAUSE),
# or $wait seconds after it with after_redis_wait.
sub after_redis { after_redis_wait(shift, 0, @_) }
sub after_redis_wait {
    my ($cmd, $wait, @r) = @_;
    my $req = r(@r);
    my $path = $req->{path};
    my $done;
    $req->{path} = later {
        unless ($done++) { redis_cmd(@$cmd); Time::HiRes::sleep($wait) }
        $path;
    };
    return $req;
}

our $UNAVAILABLE = qr/^\{"Message":"ErrorCode:ServiceUnavailable;the hub's store is unavailable, retry later","ExceptionMessage":"Tracking ID:[^"]+"\}$/;
our $OK = '{"errors":[],"warnings":[],"isSuccessful":true}';

run_tests();

__DATA__

=== TEST 1: Redis stopped: every route answers 503 at once; back to 200 after a restart
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;')
--- request eval
my %fast = (timeout => 0.5);
[r(PUT => '/devices/d1', '{}'),
 'REDIS STOP',
 r(GET => '/statistics/devices', undef, %fast),
 r(PUT => '/devices/d2', '{}', %fast),
 r(GET => '/devices/d1', undef, %fast),
 r(GET => '/devices', undef, %fast),
 r(PUT => '/devices/d1', '{}', %fast, headers => {'If-Match' => '"*"'}),
 r(DELETE => '/devices/d1', undef, %fast),
 r(GET => '/devices/d1/modules', undef, %fast),
 r(PUT => '/devices/d1/modules/m1', '{}', %fast),
 r(POST => '/devices', '[{"id":"d3","importMode":"create"},{"id":"d4","importMode":"create"}]', %fast),
 r(GET => '/statistics/devices', undef, %fast),
 'REDIS START',
 'SLEEP 0.6',
 r(GET => '/statistics/devices'),
 r(PUT => '/devices/d5', '{}'),
 r(POST => '/devices', '[{"id":"d6","importMode":"create"}]')]
--- error_code eval
[200, (503) x 10, 200, 200, 200]
--- response_body_like eval
[qr/"deviceId":"d1"/, ($UNAVAILABLE) x 10,
 # the restarted Redis kept no data (no persistence)
 qr/^\{"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0\}$/,
 qr/^\{"deviceId":"d5",/, qr/^\Q$OK\E$/]
--- response_headers eval
[undef, ("iothub-errorcode: ServiceUnavailable\nContent-Type: application/json; charset=utf-8") x 10]
--- error_log eval
[qr/\[error\] .*iothub redis: connection closed, server 127\.0\.0\.1:$TEST_REDIS_PORT/,
 qr/\[notice\] .*iothub redis: connected to 127\.0\.0\.1:$TEST_REDIS_PORT again/]
--- redis_check
ZRANGE iothub:test:devices 0 -1 => [d5, d6]



=== TEST 2: a failed link logs one [error], not one per attempt
--- main_config eval
iothub_block(extra => 'redis_max_backoff 100ms;')
--- request eval
[r(GET => '/statistics/devices'), 'REDIS STOP', 'SLEEP 0.6', 'REDIS START',
 'SLEEP 0.3', r(GET => '/statistics/devices')]
--- error_log eval
[qr/connected to 127\.0\.0\.1:$TEST_REDIS_PORT again/]
--- no_error_log eval
[qr/\[error\] .*cannot connect(?s:.*)\[error\] .*cannot connect/]



=== TEST 3: Redis stalls mid-flight: 503 after redis_command_timeout, then 200
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;')
    =~ s/redis_command_timeout 2s;/redis_command_timeout 300ms;/r
--- request eval
[r(PUT => '/devices/d1', '{}'),
 # Redis answers nothing for 1 s: the request fails at 300 ms
 after_redis([qw(CLIENT PAUSE 1000)], GET => '/devices/d1', undef, timeout => 0.8),
 # the next one fails fast too, waiting at most for the timeout
 r(PUT => '/devices/d2', '{}', timeout => 0.8),
 'SLEEP 1.0',
 r(GET => '/devices/d1'),
 r(GET => '/statistics/devices')]
--- error_code eval
[200, 503, 503, 200, 200]
--- response_body_like eval
[qr/"deviceId":"d1"/, $UNAVAILABLE, $UNAVAILABLE, qr/^\{"deviceId":"d1",/,
 qr/^\{"totalDeviceCount":1,/]
--- error_log eval
[qr/\[error\] .*iothub redis: command timed out, server 127\.0\.0\.1:$TEST_REDIS_PORT/,
 qr/iothub redis: connected to 127\.0\.0\.1:$TEST_REDIS_PORT again/]
--- redis_check
EXISTS iothub:test:{d2}:device => 0



=== TEST 4: wrong redis_password: 503 and the refused handshake in the log
--- main_config eval
iothub_block(extra => 'redis_password not-the-password;')
--- request eval
['SLEEP 0.2',
 r(GET => '/statistics/devices', undef, timeout => 1),
 r(GET => '/devices', undef, timeout => 1)]
--- error_code: 503
--- response_body_like eval
$UNAVAILABLE
--- error_log eval
[qr/\[error\] .*iothub redis: handshake refused by 127\.0\.0\.1:$TEST_REDIS_PORT: "ERR/]



=== TEST 5: wrong redis_password: a request answered 503 wrote nothing
--- main_config eval
iothub_block(extra => "redis_password not-the-password;\n    redis_max_backoff 100ms;")
--- request eval
['SLEEP 0.2',
 r(PUT => '/devices/d1', '{}', timeout => 1),
 # Redis holds its answers for 0.6 s, so the request comes while the
 # worker's next connection waits for the answer to AUTH
 after_redis_wait([qw(CLIENT PAUSE 600)], 0.25, PUT => '/devices/d2', '{}', timeout => 2)]
--- error_code: 503
--- response_body_like eval
$UNAVAILABLE
--- redis_check
EXISTS iothub:test:{d1}:device => 0
EXISTS iothub:test:{d2}:device => 0
ZCARD iothub:test:devices => 0



=== TEST 6: a refused handshake backs off like any failure (redis_max_backoff)
--- main_config eval
iothub_block(extra => "redis_password not-the-password;\n    redis_max_backoff 5s;")
--- request eval
['SLEEP 1.5']
--- error_log eval
[qr/handshake refused/]
--- no_error_log eval
# attempts 100, 200, 400 and 800 ms apart: at most 5 per link in 1.5 s,
# for the command and the subscriber link
[qr/(?:handshake refused(?s:.*?)){11}/]



=== TEST 7: redis_database 1: the keys land in database 1
--- main_config eval
iothub_block(extra => 'redis_database 1;')
--- request eval
[r(PUT => '/devices/d1', '{"status":"disabled"}'),
 r(GET => '/devices/d1'),
 r(GET => '/statistics/devices')]
--- response_body_like eval
[qr/"deviceId":"d1"/, qr/"deviceId":"d1"/,
 qr/^\{"totalDeviceCount":1,"enabledDeviceCount":0,"disabledDeviceCount":1\}$/]
--- no_error_log
[error]
--- redis_check
EXISTS iothub:test:{d1}:device => 0
DBSIZE => 0
SELECT 1 => OK
HGET iothub:test:{d1}:device deviceId => d1
SISMEMBER iothub:test:disabled d1 => 1
HGET iothub:test:{d1}:twin version => 1
SELECT 0 => OK



=== TEST 8: the script cache flushed between requests: NOSCRIPT is recovered
--- request eval
[r(PUT => '/devices/d1', '{}'),
 after_redis([qw(SCRIPT FLUSH)], PUT => '/devices/d2', '{}'),
 r(GET => '/devices'),
 after_redis([qw(SCRIPT FLUSH)], POST => '/devices',
             '[{"id":"d3","importMode":"create"},{"id":"d4","importMode":"create"},{"id":"d1","importMode":"delete"}]'),
 r(GET => '/statistics/devices'),
 after_redis([qw(SCRIPT FLUSH)], DELETE => '/devices/d2'),
 r(GET => '/devices')]
--- error_code eval
[200, 200, 200, 200, 200, 204, 200]
--- response_body_like eval
[qr/"deviceId":"d1"/, qr/^\{"deviceId":"d2",/,
 qr/^\[\{"deviceId":"d1",.*\},\{"deviceId":"d2",/,
 qr/^\Q$OK\E$/,
 qr/^\{"totalDeviceCount":3,"enabledDeviceCount":3,"disabledDeviceCount":0\}$/,
 qr/^$/,
 qr/^\[\{"deviceId":"d3",.*\},\{"deviceId":"d4",[^\]]*\]\}\]$/]
--- error_log
iothub redis: script cache was flushed, loading again
--- no_error_log
[error]
--- redis_check
ZRANGE iothub:test:devices 0 -1 => [d3, d4]
