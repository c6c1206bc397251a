# A CONNECT racing a change of its identity (docs/architecture.md,
# "Presence and the per-worker inbox"; redis-schema.md, session_connect.lua):
# the identity is read at CONNECT, and session_connect.lua registers the
# session later.  A delete or a disable in between must refuse the CONNECT
# (CONNACK 5) and leave no key behind: a presence or connection state
# written for a deleted device made a partial identity hash that could be
# neither created (409) nor deleted (404).  Modules follow their device:
# a module of a disabled device is refused, and disabling a device ends
# its modules' sessions.
#
# The race is made deterministic with the identity cache: a first
# connection caches the identity, then the identity is deleted or disabled
# in Redis behind the registry's back (no invalidation), so the next
# CONNECT is authenticated with the old record and only the script can
# tell.  The first blocks run the script itself.

use lib 't/lib';
use Test::IotHub;
use File::Basename qw(dirname);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MKEY = 'bW9kdWxlLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Ng==';
our $P = 'iothub:test:';

our $CONNECT_LUA = do {
    my $f = dirname(__FILE__) . '/../shared/lua/session_connect.lua';
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    <$fh>;
};

# session_connect.lua as a worker runs it, for an identity of dev1
sub run_connect {
    my ($module) = @_;
    my $sfx = defined $module ? ":$module" : '';
    my @keys = ("$P\{dev1}:presence$sfx", "$P\{dev1}:session$sfx",
                defined $module ? "$P\{dev1}:module:$module"
                                : "$P\{dev1}:device",
                "${P}connected");
    push @keys, "$P\{dev1}:device" if defined $module;
    return redis_cmd('EVAL', $CONNECT_LUA, scalar @keys, @keys,
                     'iothub:inbox:' . ('0' x 32), 7, 0,
                     '2024-01-02T03:04:05.0000000Z', '');
}

# a perl step: the script's reply is the error $want
sub connect_refused {
    my ($want, $module) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $r = run_connect($module);
        is(Test::IotHub::Redis::render($r), "(error) $want",
           "$t: session_connect.lua answers $want");
    }];
}

sub update_device {
    return {%{put_device(@_)}, headers => {'If-Match' => '*'}};
}

sub delete_device {
    return {method => 'DELETE', path => "/devices/$_[0]?$V",
            headers => {'If-Match' => '*'}};
}

# Connects on a new connection, then disconnects cleanly: the identity is
# in the worker's cache.
sub visit {
    my ($conn, $args) = @_;
    return ([conn => $conn], [connect => $args],
            [send => mqtt_disconnect()], [closed => 2]);
}

run_tests();

__DATA__

=== TEST 1: the connect script on a deleted device writes nothing; the id can be created and deleted again
--- mqtt eval
[connect_refused('NOT_FOUND'),
 [redis => "EXISTS ${P}{dev1}:device ${P}{dev1}:presence ${P}{dev1}:session",
  0],
 [request => put_device('dev1'), 200],
 [request => delete_device('dev1'), 204],
 [request => "GET /devices/dev1?$V", 404]]
--- no_error_log
[error]



=== TEST 2: the connect script on a disabled device, and on a module of a disabled or deleted device, writes nothing
--- request eval
[put_device('dev1', status => 'disabled'),
 put_module('dev1', 'm1', key => $MKEY)]
--- mqtt eval
[connect_refused('DISABLED'),
 connect_refused('DISABLED', 'm1'),
 [redis => "DEL ${P}{dev1}:device"],
 connect_refused('DISABLED', 'm1'),
 connect_refused('NOT_FOUND', 'm2'),
 [redis => "EXISTS ${P}{dev1}:device ${P}{dev1}:presence ${P}{dev1}:session "
           . "${P}{dev1}:presence:m1 ${P}{dev1}:session:m1 ${P}{dev1}:module:m2 "
           . "${P}connected",
  0],
 [redis => "HGET ${P}{dev1}:module:m1 connectionState", 'Disconnected']]
--- no_error_log
[error]



=== TEST 3: deleted between the registry read and the connect script: CONNACK 5, and the id stays usable
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 # what device_delete.lua deletes, without the invalidation: a presence
 # hash never outlives its identity (session_disconnect.lua relies on it)
 [redis => "DEL ${P}{dev1}:device ${P}{dev1}:presence ${P}{dev1}:session"],
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5),
 [redis => "EXISTS ${P}{dev1}:device ${P}{dev1}:presence", 0],
 [request => put_device('dev1'), 200],
 [request => delete_device('dev1'), 204]]
--- error_log
CONNECT refused with 5, identity not registered, client "dev1"
--- no_error_log
[error]



=== TEST 4: disabled between the registry read and the connect script: CONNACK 5, still Disconnected
--- request eval
put_device('dev1')
--- mqtt eval
[visit(a => {device => 'dev1'}),
 [redis => "HGET ${P}{dev1}:device connectionState", 'Disconnected', 2],
 [redis => "HSET ${P}{dev1}:device status disabled"],
 [conn => 'b'],
 mqtt_refused({device => 'dev1'}, 5)]
--- error_log
CONNECT refused with 5, the device is disabled, client "dev1"
--- no_error_log
[error]
--- redis_check
HGET iothub:test:{dev1}:device connectionState => Disconnected
EXISTS iothub:test:{dev1}:presence => 0



=== TEST 5: a module of a disabled device gets CONNACK 5; once the device is enabled, it connects
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY),
 update_device('dev1', status => 'disabled')]
--- mqtt eval
[mqtt_refused({device => 'dev1', module => 'm1', key => $MKEY}, 5),
 [request => update_device('dev1')],
 [conn => 'b'],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY}]]
--- error_log
CONNECT refused with 5, the device is disabled, client "dev1/m1"
--- no_error_log
[error]



=== TEST 6: disabling a device through REST ends its own and its modules' sessions
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY),
 put_module('dev1', 'm2', key => $MKEY), put_device('dev2')]
--- mqtt eval
[[conn => 'd'],
 [connect => {device => 'dev1'}],
 [conn => 'm1'],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY}],
 [conn => 'm2'],
 [connect => {device => 'dev1', module => 'm2', key => $MKEY}],
 [conn => 'other'],
 [connect => {device => 'dev2'}],
 [request => update_device('dev1', status => 'disabled')],
 [conn => 'm1'],
 [closed => 5],
 [conn => 'm2'],
 [closed => 5],
 [conn => 'd'],
 [closed => 5],
 [conn => 'other'],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [request => "GET /devices/dev1/modules/m1?$V", 200,
  qr/"connectionState":"Disconnected"/, 2],
 [redis => "EXISTS ${P}{dev1}:presence:m1 ${P}{dev1}:presence:m2", 0, 2]]
--- error_log
the identity was deleted or disabled
--- no_error_log
[error]



=== TEST 7: deleting a connected device through REST: its session ends and its disconnect leaves no key behind
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY)]
--- mqtt eval
[[conn => 'd'],
 [connect => {device => 'dev1'}],
 [conn => 'm1'],
 [connect => {device => 'dev1', module => 'm1', key => $MKEY}],
 [request => delete_device('dev1'), 204],
 [conn => 'm1'],
 [closed => 5],
 [conn => 'd'],
 [closed => 5],
 # session_disconnect.lua finds no presence: it marks no identity
 [redis => "EXISTS ${P}{dev1}:device ${P}{dev1}:module:m1 "
         . "${P}{dev1}:presence ${P}{dev1}:presence:m1 ${P}{dev1}:session", 0],
 [perl => sub { select undef, undef, undef, 0.2 }],
 [redis => "EXISTS ${P}{dev1}:device ${P}{dev1}:module:m1", 0],
 [request => put_device('dev1'), 200],
 [request => "GET /devices/dev1?$V", 200,
  qr/"connectionState":"Disconnected"/]]
--- no_error_log
[error]
