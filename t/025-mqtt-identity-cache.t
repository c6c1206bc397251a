# The worker's identity cache (docs/architecture.md, "Identity cache"): a
# reconnecting device is authenticated without a Redis read, and every
# registry change reaches the cache at once, on every node: disabling,
# new keys, deleting a device or a module.  Redis coming back empties it,
# "identity_cache 0" turns it off, and it keeps at most its size.  The last
# block: a session's end, sent lazily, still reaches Redis on a graceful stop.
#
# Writing an identity's keys behind the registry's back (HSET, no PUBLISH)
# shows whether a CONNECT was answered from the cache: a token signed with
# the old key is accepted only from the cache.  (Not its status: the
# connect script checks that in Redis, cache or not; t/160.)  An invalidation
# reaches the workers over Pub/Sub, on another socket than the change's
# answer: "settle" gives it the moment it needs before the next CONNECT.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $KEY3 = 'dGhpcmQta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg=';
our $MKEY = 'bW9kdWxlLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Ng==';

# Connects on a new connection, then disconnects cleanly.
sub visit {
    my ($conn, $args, $node) = @_;
    return ([conn => $conn, $node // 1], [connect => $args],
            [send => mqtt_disconnect()], [closed => 2]);
}

# put_device() for a device that exists (If-Match: *).
sub update_device {
    return {%{put_device(@_)}, headers => {'If-Match' => '*'}};
}

sub settle { return [sleep => 0.2] }

sub rekey_behind_registry {
    my $key = shift;
    return [redis => "HSET iothub:test:$key primaryKey $KEY3 "
                     . "secondaryKey $KEY3"];
}

run_tests();

__DATA__

=== TEST 1: a reconnect is answered from the cache; an invalidation drops the entry
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 rekey_behind_registry('{dev1}:device'),
 visit(b => {device => 'dev1'}),
 [redis => 'PUBLISH iothub:identities iothub:test:{dev1}:device'],
 settle(),
 [conn => 'c'],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature
--- no_error_log
[error]



=== TEST 2: disabling through the registry refuses the next CONNECT at once
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 [request => update_device('dev1', status => 'disabled')],
 settle(),
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5),
 [request => update_device('dev1')],
 settle(),
 visit(c => {device => 'dev1'})]
--- error_log
CONNECT refused with 5, the device is disabled
--- no_error_log
[error]



=== TEST 3: new keys: a token signed with the old key is refused, the new key works
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 [request => update_device('dev1', key => $KEY3, key2 => $KEY3)],
 settle(),
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5),
 visit(c => {device => 'dev1', key => $KEY3})]
--- error_log
CONNECT refused with 5, bad SAS token signature
--- no_error_log
[error]



=== TEST 4: a deleted device, and a deleted module, are refused at once
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY),
 put_device('dev2')]
--- mqtt eval
[visit(a => {device => 'dev1', module => 'm1', key => $MKEY}),
 visit(b => {device => 'dev2'}),
 [request => {method => 'DELETE', path => "/devices/dev1/modules/m1?$V",
              headers => {'If-Match' => '*'}}, 204],
 settle(),
 [conn => 'c'],
 mqtt_refused({device => 'dev1', module => 'm1', key => $MKEY}, 5),
 [request => {method => 'DELETE', path => "/devices/dev2?$V",
              headers => {'If-Match' => '*'}}, 204],
 settle(),
 [conn => 'd'],
 mqtt_refused({device => 'dev2'}, 5)]
--- error_log
CONNECT refused with 5, identity not registered, client "dev1/m1"
CONNECT refused with 5, identity not registered, client "dev2"
--- no_error_log
[error]



=== TEST 5: deleting a device drops its modules' entries too
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY)]
--- mqtt eval
[visit(a => {device => 'dev1', module => 'm1', key => $MKEY}),
 [request => {method => 'DELETE', path => "/devices/dev1?$V",
              headers => {'If-Match' => '*'}}, 204],
 settle(),
 [conn => 'b'],
 mqtt_refused({device => 'dev1', module => 'm1', key => $MKEY}, 5)]
--- error_log
CONNECT refused with 5, identity not registered, client "dev1/m1"



=== TEST 6: a change made through node 1 reaches the cache of node 2
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}, 2),
 [request => update_device('dev1', status => 'disabled')],
 settle(),
 [conn => 'b', 2],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, the device is disabled



=== TEST 7: identity_cache 0: every CONNECT reads the registry
--- main_config eval
iothub_block(extra => 'identity_cache 0;')
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 rekey_behind_registry('{dev1}:device'),
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature



=== TEST 8: the cache keeps at most identity_cache entries, least recently used out
--- main_config eval
iothub_block(extra => 'identity_cache 1;')
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[visit(a => {device => 'dev1'}),
 visit(b => {device => 'dev2'}),
 rekey_behind_registry('{dev1}:device'),
 rekey_behind_registry('{dev2}:device'),
 visit(c => {device => 'dev2'}),
 [conn => 'd'],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature, client "dev1"
--- no_error_log
refused with 5, bad SAS token signature, client "dev2"



=== TEST 9: Redis restarting empties the cache (invalidations may have been lost)
--- main_config eval
iothub_block(extra => 'redis_max_backoff 100ms;')
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 [redis_stop => 'save'],
 ['redis_start'],
 rekey_behind_registry('{dev1}:device'),
 [request => "GET /devices/dev1?$V", 200, qr/"primaryKey":"\Q$KEY3\E"/, 3],
 [sleep => 0.5],
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, bad SAS token signature



=== TEST 10: identity_cache out of bounds fails nginx -t naming the directive
--- main_config eval
iothub_block(extra => 'identity_cache 10000001;')
--- must_die
--- error_log
"identity_cache" directive value must be between 0 and 10000000



=== TEST 11: identity_cache that is not a number
--- main_config eval
iothub_block(extra => 'identity_cache lots;')
--- must_die
--- error_log
"identity_cache" directive invalid number



=== TEST 12: a session's end is bookkeeping that waits (lazy), yet a graceful stop right after still records it
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => {device => 'dev1'}],
 [redis => 'HGET iothub:test:{dev1}:device connectionState', 'Connected'],
 [send => mqtt_disconnect()],
 [closed => 2]]
--- redis_check
HGET iothub:test:{dev1}:device connectionState => Disconnected
EXISTS iothub:test:{dev1}:presence => 0
