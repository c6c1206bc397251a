# What nothing else cleans up (docs/architecture.md, "Janitor";
# redis-schema.md): every janitor_interval one worker of the cluster ends
# the sessions of workers that are gone (a presence hash whose inbox has
# no "<inbox>:alive" key: the identity shows Disconnected again), and trims
# device-to-cloud partitions that receive nothing to the hub's retention.
# The feedback stream is bounded on append (feedback_max_length).  A round
# runs only under the cluster's janitor lock.
#
# A crashed node is played by a presence hash written into Redis with an
# inbox whose worker never beat.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MKEY = 'bW9kdWxlLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Ng==';
our $P = 'iothub:test:';
our $DEAD = 'iothub:inbox:' . ('d' x 32);
our $C2D = 'devices/dev1/messages/devicebound/#';

# The steps that make an identity look connected to a crashed node.
sub orphan {
    my ($dev, $mod) = @_;
    my $sfx = defined $mod ? ":$mod" : '';
    my $id = defined $mod ? "$P\{$dev}:module:$mod" : "$P\{$dev}:device";
    return ([redis => "HSET $P\{$dev}:presence$sfx inbox $DEAD session 3 "
                      . 'features 0'],
            [redis => "HSET $id connectionState Connected"],
            defined $mod ? () : [redis => "SADD ${P}connected $dev"]);
}

sub state_is {
    my ($path, $state, $wait) = @_;
    return [request => "GET $path?$V", 200,
            qr/"connectionState":"$state"/, $wait];
}

run_tests();

__DATA__

=== TEST 1: the sessions of a dead worker end: presence gone, Disconnected, no longer counted connected, persistent session kept; live sessions stay
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;')
--- request eval
[put_device('dev1'), put_module('dev1', 'm1', key => $MKEY), put_device('dev2')]
--- mqtt eval
[[connect => {device => 'dev2'}],
 orphan('dev1'),
 orphan('dev1', 'm1'),
 [redis => "HSET ${P}{dev1}:session subs 1"],
 state_is('/devices/dev1', 'Connected'),
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":2}'],
 state_is('/devices/dev1', 'Disconnected', 10),
 state_is('/devices/dev1/modules/m1', 'Disconnected', 10),
 [request => "GET /statistics/service?$V", 200, '{"connectedDeviceCount":1}'],
 [redis => "SISMEMBER ${P}connected dev2", 1],
 [redis => "EXISTS ${P}{dev1}:presence ${P}{dev1}:presence:m1", 0],
 [redis => "HGET ${P}{dev1}:session subs", 1],
 state_is('/devices/dev2', 'Connected'),
 [redis => "HGET ${P}{dev2}:presence session", qr/^\d+$/],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- error_log
iothub janitor: hub "test": ended 2 sessions of workers that are gone
--- no_error_log
[error]
[warn]



=== TEST 2: a dead worker's presence of a deleted identity goes without writing an identity hash
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;')
--- redis eval
[['HSET', "${P}{ghost}:presence", 'inbox', $DEAD, 'session', 1,
  'features', 0]]
--- mqtt eval
[[redis => "EXISTS ${P}{ghost}:presence", 0, 10],
 [request => put_device('ghost'), 200],
 state_is('/devices/ghost', 'Disconnected')]
--- no_error_log
[error]



=== TEST 3: a partition that receives nothing is trimmed to the retention; a recent entry stays
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;', hub_extra => 'retention 1m;')
--- redis eval
[['XADD', "${P}d2c:0", '1000-0', 'body', 'old'],
 ['XADD', "${P}d2c:0", '1001-0', 'body', 'older than a minute'],
 ['XADD', "${P}d2c:3", '*', 'body', 'new']]
--- mqtt eval
[[redis => "XLEN ${P}d2c:0", 0, 10],
 [redis => "XLEN ${P}d2c:3", 1]]
--- no_error_log
[error]
[warn]



=== TEST 4: the feedback stream is trimmed to feedback_max_length on append (whole stream nodes of 100)
--- main_config eval
iothub_block(hub_extra => 'feedback_max_length 100;')
--- redis eval
[map { ['XADD', "${P}feedback", '*', 'statusCode', 'Success'] } 1 .. 1000]
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1)],
 [request => {method => 'POST', path => "/devices/dev1/messages/devicebound?$V",
              body => 'hi', headers => [['iothub-ack', 'full'],
                                        ['iothub-messageid', 'm1']]}, 204],
 [expect => qr/^\x32/],
 [send => mqtt_puback(1)],
 [redis => "XLEN ${P}feedback", qr/^1\d\d$/, 5],
 [redis => ['XREVRANGE', "${P}feedback", '+', '-', 'COUNT', 1],
  qr/originalMessageId, m1, /]]
--- no_error_log
[error]



=== TEST 5: no round while another worker holds the janitor lock; once it is free, a round runs
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;')
--- request eval
put_device('dev1')
--- mqtt eval
[[redis => 'SET iothub:janitor someone-else'],
 orphan('dev1'),
 [sleep => 2.5],
 [redis => "EXISTS ${P}{dev1}:presence", 1],
 [redis => 'DEL iothub:janitor'],
 [redis => "EXISTS ${P}{dev1}:presence", 0, 10],
 state_is('/devices/dev1', 'Disconnected')]
--- no_error_log
[error]



=== TEST 6: a round takes the lock in its worker's name
--- main_config eval
iothub_block(extra => 'janitor_interval 1s;')
--- mqtt eval
[[redis => 'GET iothub:janitor', qr/^iothub:inbox:[0-9a-f]{32}$/, 10]]
--- no_error_log
[error]
