# Cloud-to-device delivery does not stall after Redis trouble
# (docs/architecture.md, "Cloud-to-device delivery"): a session asks for
# its messages again when the subscriber link comes back (notifications
# published meanwhile are lost), and a completion Redis never stored is
# retried once the message's lock expired, so the message comes again.
# And the script behind the layer's reject.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $C2D = 'devices/dev1/messages/devicebound/#';
our $TO = '%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound';

sub c2d {
    my ($id, $body) = @_;
    return mqtt_publish(
        topic => "devices/dev1/messages/devicebound/$TO&iothub-ack=none",
        qos => 1, id => $id, payload => $body);
}

sub send_c2d {
    my ($body) = @_;
    return {method => 'POST', path => "/devices/dev1/messages/devicebound?$V",
            body => $body};
}

# A message queued behind the hub's back, as c2d_send.lua would while the
# notification finds no subscriber: nothing tells the session.
sub queue_silently {
    my ($n, $body) = @_;
    my $far = (time + 3600) * 1000;
    return ([redis => "HSET iothub:test:{dev1}:c2d:$n dc 0 ack none "
                      . "expiry $far body $body"],
            [redis => "RPUSH iothub:test:{dev1}:c2d $n"]);
}

# The text of a Redis script of the hub.
sub lua {
    my $name = shift;
    open my $f, '<', "shared/lua/$name.lua" or die "$name.lua: $!";
    local $/;
    return <$f>;
}

run_tests();

__DATA__

=== TEST 1: the subscriber link reconnects: a message queued meanwhile is delivered without a notification
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1)],
 queue_silently(1, 'quiet'),
 [silent => 0.5],
 [redis => 'CLIENT KILL TYPE pubsub'],
 [expect => c2d(1, 'quiet')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 2: a completion lost with Redis: once the lock expired the message comes again, and its PUBACK then completes it
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;',
             hub_extra => 'c2d_lock_timeout 5s;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1)],
 [request => send_c2d('once'), 204],
 [expect => c2d(1, 'once')],
 [redis_stop => 'save'],
 [send => mqtt_puback(1)],
 [sleep => 0.3],
 ['redis_start'],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 1],
 [expect => c2d(2, 'once'), 10],
 [send => mqtt_puback(2)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 3: a receive that failed (the command link timed out) is tried again once the link is back
--- main_config eval
iothub_block(extra => 'redis_max_backoff 200ms;', command_timeout => '300ms')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 queue_silently(1, 'waiting'),
 [redis => 'CLIENT PAUSE 1500 ALL'],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1) . c2d(1, 'waiting'), 10],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 4: c2d_settle.lua rejects a locked message: removed, feedback Rejected for ack full (the shared layer's NGX_IOTHUB_C2D_REJECT)
--- request eval
put_device('dev1')
--- mqtt eval
[[redis => 'HSET iothub:test:{dev1}:c2d:9 dc 0 ack full p:message-id m9 lock L1 lockUntil 2000 body b'],
 [redis => 'RPUSH iothub:test:{dev1}:c2d 9'],
 [redis => ['EVAL', lua('c2d_settle'), 3, 'iothub:test:{dev1}:c2d',
            'iothub:test:feedback', 'iothub:test:{dev1}:presence',
            'iothub:test:{dev1}:c2d:', 9, 'L1', 'reject', 'now', 'dev1', 'g',
            1000, 1999], 'OK'],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0],
 [redis => 'EXISTS iothub:test:{dev1}:c2d:9', 0],
 [redis => 'EVAL "return redis.call(\'XRANGE\', KEYS[1], \'-\', \'+\')[1][2][6]" 1 iothub:test:feedback', 'Rejected']]
