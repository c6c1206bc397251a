# memory_trim (docs/directives.md): a worker where connections came or went
# gives its heap's free pages back once an interval (glibc malloc_trim);
# sessions connected before a trim keep working after it: C2D, telemetry,
# keep-alive. An idle session also holds no output buffer between packets
# (ngx_iothub_mqtt_flush): every packet sent after an idle time allocates
# one again. Each trim first drops the identity cache's expired entries
# (ngx_iothub_idcache_expire), the devices that connected once and left.

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $C2D = 'devices/dev1/messages/devicebound/#';

# the "heap trimmed" lines in node 1's error.log so far
sub trim_lines {
    open(my $fh, '<', test_prefix() . '/logs/error.log') or return ();
    return grep { /iothub: heap trimmed/ } <$fh>;
}

sub trims { return scalar(my @l = trim_lines()) }

# a step: connect dev1 and drop the connection at once, with no tick of
# the trim timer between its two log lines (retried until none fell there)
sub brief_session {
    my ($conn, $name) = @_;
    my $trims = trims();
    for (1 .. 5) {
        my $c = Test::IotHub::MQTT::Client->new(port => $TEST_NGINX_PORT2)
            or return fail("$name: $@");
        $c->send(mqtt_connect(device => 'dev1'));
        my ($got) = $c->read_packet(5);
        return is(mqtt_hex($got), mqtt_hex(mqtt_connack(0)), "$name: CONNACK")
            if $got ne mqtt_connack(0);
        close($c->{sock});
        select(undef, undef, undef, 0.1);
        return if trims() == $trims;
        $trims = trims();
    }
    fail("$name: a trim tick fell inside each of 5 brief sessions");
}

sub c2d_plain {
    my ($id, $body) = @_;
    return mqtt_publish(
        topic => 'devices/dev1/messages/devicebound/'
                 . '%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&iothub-ack=none',
        qos => 1, id => $id, payload => $body);
}

run_tests();

__DATA__

=== TEST 1: a session connected before a trim: C2D, telemetry and PINGREQ after it
--- main_config eval
iothub_block(extra => 'memory_trim 1s;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1)],
 [silent => 2.5],
 [request => {method => 'POST', path => "/devices/dev1/messages/devicebound?$V",
              body => 'after'}, 204, ''],
 [expect => c2d_plain(1, 'after')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [send => mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1,
                       id => 9, payload => 'still here')],
 [expect => mqtt_puback(9)],
 [d2c => [{body => 'still here'}]],
 [silent => 1.5],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- error_log eval
qr/iothub: heap trimmed, resident \d+K, was \d+K/
--- no_error_log
[error]



=== TEST 2: memory_trim off: no trim
--- main_config eval
iothub_block(extra => 'memory_trim off;')
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [silent => 2.5],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
heap trimmed
[error]



=== TEST 3: the default (30s) does not trim within seconds
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [silent => 1.5],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
heap trimmed
[error]



=== TEST 4: ids of 128 characters and a will overflow the session's one pool block: the session still works, its will is sent
--- main_config eval
iothub_block(extra => 'memory_trim 1s;')
--- request eval
[put_device('d' x 128), put_module('d' x 128, 'm' x 128)]
--- mqtt eval
[[connect => {device => 'd' x 128, module => 'm' x 128,
              will => ['devices/' . ('d' x 128) . '/modules/' . ('m' x 128)
                       . '/messages/events/k=' . ('v' x 200), 'gone', 1, 0]}],
 [send => mqtt_publish(topic => 'devices/' . ('d' x 128) . '/modules/'
                                . ('m' x 128) . '/messages/events/',
                       qos => 1, id => 3, payload => 'long ids')],
 [expect => mqtt_puback(3)],
 [silent => 1.5],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 ['close'],
 [d2c => [{body => 'long ids', 'a:iothub-connection-module-id' => 'm' x 128},
          {body => 'gone', 'u:k' => 'v' x 200}], 5]]
--- no_error_log
[error]



=== TEST 5: churn that ends where it began is trimmed: a session that came and went between two ticks, with as many connections at both
--- main_config eval
iothub_block(extra => 'memory_trim 1s;')
--- request eval
put_device('dev1')
--- mqtt eval
[[sleep => 2.5],
 [perl => sub { $main::before = trims() }],
 [perl => \&brief_session],
 [sleep => 1.5],
 [perl => sub { cmp_ok(trims(), '>', $main::before, "$_[1]: trimmed after it") }]]
--- no_error_log
[error]



=== TEST 6: a device that connected once and left: its identity cache entry is dropped once expired (60 s), by a trim
--- main_config eval
iothub_block(extra => 'memory_trim 1s;')
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[connect => 'dev1'],
 ['close'],
 [conn => 'b'],
 [connect => 'dev2'],
 ['close'],
 [sleep => 63],
 [perl => sub {
     my $dropped = 0;
     $dropped += $_ for map { / (\d+) expired identities dropped/ } trim_lines();
     is($dropped, 2, "$_[1]: both identities dropped by the trims");
 }],
 [conn => 'c'],
 [connect => 'dev1']]
--- no_error_log
[error]
