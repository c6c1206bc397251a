# Reload and shutdown: graceful stop (the harness stops nginx with QUIT
# after every block) with requests still waiting for Redis, reloads that
# keep serving, several workers sharing the registry through Redis, and
# a reload that closes an open AMQP connection before its worker exits.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;

# Test::Base runs every eval section before the first block starts.  A
# value that depends on an earlier response of the same block (its etag),
# or an action on Redis between two requests, is a Later object: the
# harness makes it text when it sends the request or checks the headers.
package Later {
    use overload '""' => sub { $_[0]->() }, fallback => 1;
}
sub later(&) { bless $_[0], 'Later' }

# keep('x') matches a body's etag and remembers it as $SAW{x}.
our %SAW;
sub keep { my $n = shift; qr/"etag":"([A-Za-z0-9+\/]+=*)"(?{ $main::SAW{$n} = $^N })/ }
sub same { my $n = shift; qr/"etag":"(??{ quotemeta $main::SAW{$n} })"/ }

our $V = 'api-version=2021-04-12';
sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}

# The request, sent right after Redis ran the command (e.g. CLIENT PAUSE).
sub after_redis {
    my ($cmd, @r) = @_;
    my $req = r(@r);
    my $path = $req->{path};
    my $done;
    $req->{path} = later { redis_cmd(@$cmd) unless $done++; $path };
    return $req;
}

run_tests();

__DATA__

=== TEST 1: graceful stop while a request waits for Redis: no [alert]
--- request eval
[r(PUT => '/devices/d1', '{}'),
 # Redis holds the answer for 0.7 s; the client gives up at 0.2 s and the
 # harness sends QUIT while the request is still pending in the worker
 after_redis([qw(CLIENT PAUSE 700)], GET => '/devices/d1', undef, timeout => 0.2)]
--- error_code eval
[200, 'timeout']
--- error_log
gracefully shutting down
--- no_error_log
open socket
aborting



=== TEST 2: graceful stop while a bulk request waits for Redis: no [alert]
--- request eval
[after_redis([qw(CLIENT PAUSE 700)], POST => '/devices',
             '[{"id":"d1","importMode":"create"},{"id":"d2","importMode":"create"}]',
             timeout => 0.2)]
--- error_code: timeout
--- no_error_log
open socket
aborting



=== TEST 3: graceful stop while the Redis link waits to reconnect: clean exit
--- main_config eval
iothub_block(extra => 'redis_max_backoff 10s;')
--- request eval
['REDIS STOP',
 r(GET => '/statistics/devices', undef, timeout => 0.5),
 'SLEEP 0.3']
--- error_code: 503
--- response_body_like: ^\{"Message":"ErrorCode:ServiceUnavailable;
--- error_log
gracefully shutting down
exiting



=== TEST 4: reload keeps serving the same data
--- request eval
[r(PUT => '/devices/d1', '{}'),
 'HUP',
 r(GET => '/devices/d1'),
 r(PUT => '/devices/d2', '{"status":"disabled"}'),
 'HUP',
 r(GET => '/devices'),
 r(GET => '/statistics/devices'),
 r(DELETE => '/devices/d1', undef, headers => {'If-Match' => later { qq{"$SAW{d1}"} }})]
--- error_code eval
[200, 200, 200, 200, 200, 204]
--- response_body_like eval
[keep('d1'), same('d1'), qr/"deviceId":"d2"/,
 qr/^\[\{"deviceId":"d1",.*\},\{"deviceId":"d2",.*"status":"disabled"/,
 qr/^\{"totalDeviceCount":2,"enabledDeviceCount":1,"disabledDeviceCount":1\}$/,
 qr/^$/]
--- error_log
reconfiguring
gracefully shutting down
--- no_error_log
[error]



=== TEST 5: reload while a request waits for Redis: the old worker finishes it, no [alert]
--- request eval
[r(PUT => '/devices/d1', '{}'),
 after_redis([qw(CLIENT PAUSE 700)], GET => '/devices/d1', undef, timeout => 0.2),
 'HUP',
 r(GET => '/devices/d1', undef, timeout => 3)]
--- error_code eval
[200, 'timeout', 200]
--- response_body_like eval
[keep('d1'), undef, same('d1')]
--- no_error_log
open socket
aborting



=== TEST 6: two workers serve the same registry
--- workers: 2
--- request eval
[r(PUT => '/devices/d1', '{}'),
 (map { r(GET => '/devices/d1') } 1 .. 8),
 (map { r(PUT => "/devices/w$_", '{}') } 1 .. 4),
 (map { r(GET => '/statistics/devices') } 1 .. 4),
 r(PUT => '/devices/d1', '{"status":"disabled"}', headers => {'If-Match' => later { qq{"$SAW{d1}"} }}),
 (map { r(GET => '/devices/d1') } 1 .. 4)]
--- response_body_like eval
[keep('d1'), (same('d1')) x 8, (qr/"deviceId":"w\d"/) x 4,
 (qr/^\{"totalDeviceCount":5,"enabledDeviceCount":5,"disabledDeviceCount":0\}$/) x 4,
 keep('d1.new'), (qr/${\ same('d1.new')},"connectionState":"Disconnected","status":"disabled"/) x 4]
--- error_log eval
[qr/start worker process \d+\n(?s:.*)start worker process \d+\n/]
--- no_error_log
[error]



=== TEST 7: two workers stop gracefully with requests pending in both
--- workers: 2
--- request eval
[r(PUT => '/devices/d1', '{}'),
 after_redis([qw(CLIENT PAUSE 700)], GET => '/devices/d1', undef, timeout => 0.1),
 (map { r(GET => '/devices/d1', undef, timeout => 0.1) } 1 .. 3)]
--- error_code eval
[200, ('timeout') x 4]
--- no_error_log
open socket
aborting



=== TEST 8: reload with an open AMQP connection: closed before the old worker exits, no [alert]
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- mqtt eval
[[perl => sub { $::amqp = amqp_client() }],
 ['hup'],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::amqp->cmd(op => 'cbs', audience => 'localhost%2Fdevices%2Fx',
                         token => 'x');
    ok(!defined $r->{status}, "$t: the old worker closed the connection")
        or diag(explain($r));
    undef $::amqp;
 }]]
--- error_log
iothub amqp: closing connection: server shutting down
--- no_error_log
[alert]
