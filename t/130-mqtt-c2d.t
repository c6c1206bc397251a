# Cloud-to-device messages over MQTT (reference/mqtt.md 5, messaging.md 3,
# docs/redis-schema.md): POST /devices/{id}/messages/devicebound queues a
# message, a session subscribed to devices/{id}/messages/devicebound/#
# gets it as a QoS 1 PUBLISH with the percent-encoded property bag, one in
# flight, PUBACK completes it (feedback Success), a session ending without
# PUBACK releases it uncounted as an expired lock would (delivered again),
# c2d_lock_timeout sends it again on the same session, expiry and the
# maximum delivery count dead-letter it (feedback Expired,
# DeliveryCountExceeded), the queue depth, purge, cloudToDeviceMessageCount,
# and deleting or disabling a device ends its session.

use lib 't/lib';
use Test::IotHub;
use POSIX ();
use Time::HiRes qw(sleep time);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $C2D = 'devices/dev1/messages/devicebound/#';

# The REST request queueing a message: send_c2d($dev, $body, [header,
# value], ...).
sub send_c2d {
    my ($dev, $body, @headers) = @_;
    return {method => 'POST', path => "/devices/$dev/messages/devicebound?$V",
            body => $body // '', headers => [@headers]};
}

sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}

# The PUBLISH a device gets: c2d($id, $dev, $body, @bag pairs after %24.to).
sub c2d {
    my ($id, $dev, $body, @bag) = @_;
    return mqtt_publish(
        topic => "devices/$dev/messages/devicebound/"
                 . join('&', "%24.to=%2Fdevices%2F$dev%2Fmessages%2FdeviceBound", @bag),
        qos => 1, id => $id, payload => $body);
}

# The same as an expect check with the bag's pairs in any order (%24.to
# first).
sub c2d_like {
    my ($id, $dev, $body, @bag) = @_;
    return sub {
        my $p = shift;
        my $want = c2d($id, $dev, $body, @bag);
        my $norm = sub {
            my $x = shift;
            my ($first, $rest) = ($x =~ /^(.)(.*)$/s);
            my $i = 0;
            $i++ while ord(substr $rest, $i, 1) & 0x80;
            my $b = substr $rest, $i + 1;
            my $tl = unpack 'n', $b;
            my ($pre, $bag) = substr($b, 2, $tl) =~ m{^(.*?devicebound/%24\.to=[^&]*)&?(.*)$};
            return join "\n", ord $first, $pre, sort(split /&/, $bag // ''),
                               substr($b, 2 + $tl);
        };
        return length $p == length $want && $norm->($p) eq $norm->($want);
    };
}

# The default property bag of a message sent without headers.
sub plain { my ($id, $body) = @_; return c2d($id, 'dev1', $body, 'iothub-ack=none') }

# A connected device subscribed to C2D: the steps.
sub c2d_device {
    my ($args) = @_;
    return ([connect => $args // 'dev1'],
            [send => mqtt_subscribe(1, [$C2D, 1])],
            [expect => mqtt_suback(1, 1)]);
}

sub error_re {
    my ($code, $text) = @_;
    (my $json = $text // '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d"\}$/;
}

# The hub's feedback records, oldest first, as hashrefs with _fields.
sub feedback {
    my @f;
    for my $e (@{redis_cmd('XRANGE', 'iothub:test:feedback', '-', '+') || []}) {
        my ($id, $kv) = @$e;
        push @f, {_id => $id, _fields => [@$kv[grep { !($_ % 2) } 0 .. $#$kv]], @$kv};
    }
    return \@f;
}

# A step: the feedback stream holds exactly these records (statusCode and
# originalMessageId of each, within $wait s); every record has all six
# fields, the device's id and generation id.
sub feedback_is {
    my ($want, $wait) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $deadline = time + ($wait // 2);
        my $err;
        while (1) {
            my $got = feedback();
            $err = '';
            $err = 'got ' . @$got . ' records, expected ' . @$want if @$got != @$want;
            for my $i (0 .. $#$want) {
                last if $err;
                my ($g, $w) = ($got->[$i], $want->[$i]);
                my $gen = redis_cmd('HGET', "iothub:test:{$w->{deviceId}}:device",
                                    'generationId') // $w->{generationId} // '';
                $err = "record $i: " . join ', ', map { "$_=$g->{$_}" } @{$g->{_fields}}
                    unless "@{$g->{_fields}}" eq 'originalMessageId enqueuedTimeUtc statusCode description deviceId deviceGenerationId'
                           && $g->{statusCode} eq $w->{statusCode}
                           && $g->{description} eq $w->{statusCode}
                           && $g->{originalMessageId} eq $w->{originalMessageId}
                           && $g->{deviceId} eq $w->{deviceId}
                           && $g->{deviceGenerationId} eq $gen
                           && $g->{enqueuedTimeUtc} =~ /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/;
            }
            last if $err eq '' || time > $deadline;
            sleep 0.05;
        }
        ok($err eq '', "$t: feedback records") or diag($err);
    }];
}

sub fb { my ($code, $mid, $dev) = @_; return {statusCode => $code, originalMessageId => $mid, deviceId => $dev // 'dev1'} }

# An HTTP date $secs from now.
sub http_date { POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + shift)) }

# A step sending a message at once (for headers computed when it runs).
sub send_now {
    my ($status, $dev, $body, $headers) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $r = http_request('POST', "/devices/$dev/messages/devicebound?$V",
                             [[Host => 'localhost'], [Connection => 'close'],
                              [Authorization => sas_token()],
                              [ 'Content-Length' => length $body ], $headers->()],
                             $body);
        is($r->{status}, $status, "$t: POST answered $status") or diag($r->{raw});
    }];
}

run_tests();

__DATA__

=== TEST 1: a message with every property: 204, then a QoS 1 PUBLISH with the bag; PUBACK completes it with feedback Success
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device(),
 [request => send_c2d('dev1', '{"cmd":"on"}', ['iothub-messageid', 'm-1'],
                      ['iothub-correlationid', 'c/1'], ['iothub-userid', 'u1'],
                      ['iothub-contenttype', 'application/json'],
                      ['iothub-contentencoding', 'utf-8'], ['iothub-ack', 'full'],
                      ['iothub-app-alert', 'high'],
                      ['iothub-app-Sp', "a b&c=d/\xc3\xa9+%"],
                      ['iothub-app-empty', '']), 204, ''],
 [expect => c2d(1, 'dev1', '{"cmd":"on"}', 'iothub-ack=full', '%24.mid=m-1',
                '%24.cid=c%2F1', '%24.uid=u1', '%24.ct=application%2Fjson',
                '%24.ce=utf-8', 'alert=high', 'Sp=a%20b%26c%3Dd%2F%C3%A9%2B%25',
                'empty=')],
 [redis => 'LRANGE iothub:test:{dev1}:c2d 0 -1', [1]],
 [redis => 'HGET iothub:test:{dev1}:c2d:1 lock', qr/^\d+\.[0-9a-f]{8}\.\d+$/],
 [request => "GET /devices/dev1?$V", 200, qr/"cloudToDeviceMessageCount":1,/],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [redis => 'EXISTS iothub:test:{dev1}:c2d:1', 0],
 feedback_is([fb(Success => 'm-1')]),
 [request => "GET /devices/dev1?$V", 200, qr/"cloudToDeviceMessageCount":0,/],
 [silent => 0.2]]
--- no_error_log
[error]



=== TEST 2: a message without headers: ack none, empty body allowed; no feedback for ack none or negative
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device(),
 [request => send_c2d('dev1', ''), 204],
 [expect => plain(1, '')],
 [send => mqtt_puback(1)],
 [request => send_c2d('dev1', 'x', ['iothub-ack', 'negative'], ['iothub-messageid', 'n']), 204],
 [expect => c2d(2, 'dev1', 'x', 'iothub-ack=negative', '%24.mid=n')],
 [send => mqtt_puback(2)],
 [request => send_c2d('dev1', 'y', ['iothub-ack', 'positive'], ['iothub-messageid', 'p']), 204],
 [expect => c2d(3, 'dev1', 'y', 'iothub-ack=positive', '%24.mid=p')],
 [send => mqtt_puback(3)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 feedback_is([fb(Success => 'p')])]



=== TEST 3: several messages: in order, one in flight, the next only after the PUBACK
--- request eval
[put_device('dev1'), map { send_c2d('dev1', "m$_", ['iothub-messageid', "m$_"]) } 1 .. 3]
--- error_code eval
[200, 204, 204, 204]
--- mqtt eval
[c2d_device(),
 [expect => c2d(1, 'dev1', 'm1', 'iothub-ack=none', '%24.mid=m1')],
 [silent => 0.3],
 [request => send_c2d('dev1', 'm4', ['iothub-messageid', 'm4']), 204],
 [silent => 0.2],
 [send => mqtt_puback(1)],
 [expect => c2d(2, 'dev1', 'm2', 'iothub-ack=none', '%24.mid=m2')],
 [silent => 0.2],
 [send => mqtt_puback(2)],
 [expect => c2d(3, 'dev1', 'm3', 'iothub-ack=none', '%24.mid=m3')],
 [send => mqtt_puback(3)],
 [expect => c2d(4, 'dev1', 'm4', 'iothub-ack=none', '%24.mid=m4')],
 # a PUBACK of another packet id completes nothing
 [send => mqtt_puback(9)],
 [silent => 0.2],
 [redis => 'LRANGE iothub:test:{dev1}:c2d 0 -1', [4]],
 [send => mqtt_puback(4)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [silent => 0.2]]



=== TEST 4: nothing before the SUBSCRIBE; queued messages follow the SUBACK; UNSUBSCRIBE stops new deliveries
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [request => send_c2d('dev1', 'early'), 204],
 [silent => 0.3],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1) . plain(1, 'early')],
 [send => mqtt_puback(1)],
 [send => mqtt_unsubscribe(2, $C2D)],
 [expect => mqtt_unsuback(2)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 0, 1],
 [request => send_c2d('dev1', 'late'), 204],
 [silent => 0.3],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 1]]



=== TEST 5: persistent session: messages queued while offline arrive on reconnect (clean 0) without a new SUBSCRIBE
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device({device => 'dev1', clean => 0}),
 [send => mqtt_disconnect()],
 [closed => 2],
 [request => send_c2d('dev1', 'while away'), 204],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1) . plain(1, 'while away')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [send => mqtt_disconnect()],
 [closed => 2],
 # clean session 1: nothing until it subscribes again
 [request => send_c2d('dev1', 'again'), 204],
 [connect => {device => 'dev1', clean => 1}],
 [silent => 0.3],
 [send => mqtt_subscribe(3, [$C2D, 1])],
 [expect => mqtt_suback(3, 1) . plain(1, 'again')]]



=== TEST 6: no PUBACK before the connection ends: released as an expired lock would be (delivery count unchanged), delivered again on reconnect
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device({device => 'dev1', clean => 0}),
 [request => send_c2d('dev1', 'once more', ['iothub-messageid', 'r1'], ['iothub-ack', 'full']), 204],
 [expect => c2d(1, 'dev1', 'once more', 'iothub-ack=full', '%24.mid=r1')],
 [redis => 'HGET iothub:test:{dev1}:c2d:1 dc', 0],
 ['close'],
 [redis => 'HEXISTS iothub:test:{dev1}:c2d:1 lock', 0, 2],
 [redis => 'HGET iothub:test:{dev1}:c2d:1 dc', 0],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [expect => c2d(1, 'dev1', 'once more', 'iothub-ack=full', '%24.mid=r1')],
 # a clean disconnect without PUBACK releases it too
 [send => mqtt_disconnect()],
 [closed => 2],
 [redis => 'HEXISTS iothub:test:{dev1}:c2d:1 lock', 0, 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [expect => c2d(1, 'dev1', 'once more', 'iothub-ack=full', '%24.mid=r1')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [redis => 'EXISTS iothub:test:{dev1}:c2d:1', 0],
 feedback_is([fb(Success => 'r1')])]



=== TEST 7: c2d_max_delivery_count 2: a message abandoned twice (delivery count 2) is dead-lettered (DeliveryCountExceeded), the next one comes
--- main_config eval
iothub_block(hub_extra => 'c2d_max_delivery_count 2;')
--- request eval
[put_device('dev1'),
 send_c2d('dev1', 'poison', ['iothub-messageid', 'bad'], ['iothub-ack', 'negative']),
 send_c2d('dev1', 'tried once', ['iothub-messageid', 'once'], ['iothub-ack', 'full']),
 send_c2d('dev1', 'fine', ['iothub-messageid', 'good'], ['iothub-ack', 'full'])]
--- error_code eval
[200, 204, 204, 204]
--- mqtt eval
# abandons come from protocols that have them (AMQP, HTTP): set the counts
[[redis => 'HSET iothub:test:{dev1}:c2d:1 dc 2'],
 [redis => 'HSET iothub:test:{dev1}:c2d:2 dc 1'],
 c2d_device({device => 'dev1', clean => 0}),
 [expect => c2d(1, 'dev1', 'tried once', 'iothub-ack=full', '%24.mid=once')],
 [redis => 'EXISTS iothub:test:{dev1}:c2d:1', 0],
 feedback_is([fb(DeliveryCountExceeded => 'bad')]),
 # a dropped connection counts no delivery: still deliverable
 ['close'],
 [redis => 'HEXISTS iothub:test:{dev1}:c2d:2 lock', 0, 2],
 [connect => {device => 'dev1', clean => 0},
  mqtt_connack(0, 1) . c2d(1, 'dev1', 'tried once', 'iothub-ack=full', '%24.mid=once')],
 [send => mqtt_puback(1)],
 [expect => c2d(2, 'dev1', 'fine', 'iothub-ack=full', '%24.mid=good')],
 [send => mqtt_puback(2)],
 feedback_is([fb(DeliveryCountExceeded => 'bad'), fb(Success => 'once'), fb(Success => 'good')]),
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0]]



=== TEST 8: c2d_lock_timeout 5s: a message not acknowledged within its lock is sent again on the same session
--- main_config eval
iothub_block(hub_extra => 'c2d_lock_timeout 5s;')
--- request eval
[put_device('dev1'), send_c2d('dev1', 'ack me', ['iothub-messageid', 'slow'], ['iothub-ack', 'positive'])]
--- error_code eval
[200, 204]
--- mqtt eval
[c2d_device(),
 [expect => c2d(1, 'dev1', 'ack me', 'iothub-ack=positive', '%24.mid=slow')],
 [silent => 4.5],
 [expect => c2d(2, 'dev1', 'ack me', 'iothub-ack=positive', '%24.mid=slow'), 1.5],
 [redis => 'HGET iothub:test:{dev1}:c2d:1 dc', 0],
 # the first delivery's PUBACK is late: it completes nothing, the second's does
 [send => mqtt_puback(1)],
 [silent => 0.2],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 1],
 [send => mqtt_puback(2)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 feedback_is([fb(Success => 'slow')])]
--- error_log
C2D message not acknowledged in time, delivering again



=== TEST 9: expiry: iothub-expiry in the past, or passed while queued, dead-letters (Expired, for ack negative and full only)
--- request eval
[put_device('dev1'),
 send_c2d('dev1', 'stale', ['iothub-messageid', 'e1'], ['iothub-ack', 'full'],
          ['iothub-expiry', 'Thu, 01 Jan 2015 00:00:00 GMT']),
 send_c2d('dev1', 'stale2', ['iothub-messageid', 'e2'], ['iothub-ack', 'positive'],
          ['iothub-expiry', 'Thu, 01 Jan 2015 00:00:00 GMT'])]
--- error_code eval
[200, 204, 204]
--- mqtt eval
[[connect => 'dev1'],
 send_now(204, 'dev1', 'short', sub { (['iothub-messageid', 'e3'], ['iothub-ack', 'negative'],
                                       ['iothub-expiry', http_date(2)]) }),
 send_now(204, 'dev1', 'later', sub { (['iothub-messageid', 'ok'], ['iothub-expiry', http_date(120)]) }),
 [perl => sub {   # the sender's expiry is kept in ms
     my (undef, $t) = @_;
     my $exp = redis_cmd(qw(HGET iothub:test:{dev1}:c2d:4 expiry));
     ok(abs($exp - (int(time) + 120) * 1000) <= 2000, "$t: expiry of message 4 ($exp)");
 }],
 [request => "GET /devices/dev1?$V", 200, qr/"cloudToDeviceMessageCount":4,/],
 [sleep => 2.1],
 [send => mqtt_subscribe(1, [$C2D, 1])],
 [expect => mqtt_suback(1, 1) . c2d(1, 'dev1', 'later', 'iothub-ack=none', '%24.mid=ok')],
 feedback_is([fb(Expired => 'e1'), fb(Expired => 'e3')]),
 [redis => 'LRANGE iothub:test:{dev1}:c2d 0 -1', [4]],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 10: without iothub-expiry the hub's c2d_ttl applies (1m here)
--- main_config eval
iothub_block(hub_extra => 'c2d_ttl 1m;')
--- request eval
[put_device('dev1'), send_c2d('dev1', 'ttl')]
--- error_code eval
[200, 204]
--- mqtt eval
[[perl => sub {
     my (undef, $t) = @_;
     my $exp = redis_cmd(qw(HGET iothub:test:{dev1}:c2d:1 expiry));
     my $left = $exp - time * 1000;
     ok($left > 55000 && $left <= 60500, "$t: expires in about 60 s ($left ms)");
 }]]



=== TEST 11: c2d_queue_depth 2: the third message gets 403 DeviceMaximumQueueDepthExceeded; a message in flight still counts
--- main_config eval
iothub_block(hub_extra => 'c2d_queue_depth 2;')
--- request eval
[put_device('dev1'), map { send_c2d('dev1', "q$_") } 1 .. 3]
--- error_code eval
[200, 204, 204, 403]
--- response_body_like eval
[undef, qr/^$/, qr/^$/, error_re('DeviceMaximumQueueDepthExceeded', 'the queue of device dev1 is full')]
--- response_headers eval
[undef, undef, undef, "iothub-errorcode: DeviceMaximumQueueDepthExceeded\nContent-Type: application/json; charset=utf-8"]
--- mqtt eval
[c2d_device(),
 [expect => plain(1, 'q1')],
 [request => send_c2d('dev1', 'q3'), 403, error_re('DeviceMaximumQueueDepthExceeded')],
 [send => mqtt_puback(1)],
 [expect => plain(2, 'q2')],
 [request => send_c2d('dev1', 'q3'), 204],
 [request => send_c2d('dev1', 'q4'), 403],
 [send => mqtt_puback(2)],
 [expect => plain(3, 'q3')],
 [send => mqtt_puback(3)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 12: purge: the count of removed messages, cloudToDeviceMessageCount 0, numbers go on; 404 for an unknown device
--- request eval
[put_device('dev1'),
 (map { send_c2d('dev1', "p$_") } 1 .. 3),
 r(GET => '/devices/dev1'),
 r(DELETE => '/devices/dev1/commands'),
 r(GET => '/devices/dev1'),
 r(DELETE => '/devices/dev1/commands'),
 r(DELETE => '/devices/ghost/commands'),
 send_c2d('dev1', 'p4')]
--- error_code eval
[200, 204, 204, 204, 200, 200, 200, 200, 404, 204]
--- response_body_like eval
[undef, undef, undef, undef,
 qr/"cloudToDeviceMessageCount":3,/,
 qr/^\{"deviceId":"dev1","moduleId":null,"totalMessagesPurged":3\}$/,
 qr/"cloudToDeviceMessageCount":0,/,
 qr/^\{"deviceId":"dev1","moduleId":null,"totalMessagesPurged":0\}$/,
 error_re('DeviceNotFound', 'Device ghost not registered'),
 qr/^$/]
--- response_headers eval
[(undef) x 5, 'Content-Type: application/json; charset=utf-8']
--- redis_check
LRANGE iothub:test:{dev1}:c2d 0 -1 => [4]
EXISTS iothub:test:{dev1}:c2d:1 => 0
GET iothub:test:{dev1}:c2d:seq => 4



=== TEST 13: purge with a message in flight: its late PUBACK completes nothing, later messages still flow
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device(),
 [request => send_c2d('dev1', 'gone', ['iothub-messageid', 'g'], ['iothub-ack', 'full']), 204],
 [expect => c2d(1, 'dev1', 'gone', 'iothub-ack=full', '%24.mid=g')],
 [request => send_c2d('dev1', 'gone too'), 204],
 [request => r(DELETE => '/devices/dev1/commands'), 200,
  '{"deviceId":"dev1","moduleId":null,"totalMessagesPurged":2}'],
 [send => mqtt_puback(1)],
 [silent => 0.3],
 [request => send_c2d('dev1', 'next'), 204],
 [expect => plain(2, 'next')],
 [send => mqtt_puback(2)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 feedback_is([])]
--- error_log
C2D completion refused: "LOCK_LOST"



=== TEST 14: refused messages: unknown device 404, over 64 KB 413, bad iothub-ack or iothub-expiry 400, bad id 400, no service_connect 401
--- request eval
[put_device('dev1'),
 send_c2d('ghost', 'x'),
 send_c2d('dev1', 'x' x 65537),
 send_c2d('dev1', 'x', ['iothub-ack', 'always']),
 send_c2d('dev1', 'x', ['iothub-expiry', '2030-01-01T00:00:00Z']),
 {%{send_c2d('a%5Eb', 'x')}},
 {%{send_c2d('dev1', 'x')}, auth => 'registryReadWrite'},
 send_c2d('dev1', 'x' x 65536)]
--- error_code eval
[200, 404, 413, 400, 400, 400, 401, 204]
--- response_body_like eval
[undef,
 error_re('DeviceNotFound', 'Device ghost not registered'),
 error_re('MessageTooLarge', 'a cloud-to-device message holds at most 64 KB'),
 error_re('ArgumentInvalid', 'iothub-ack must be none, positive, negative or full'),
 error_re('ArgumentInvalid', 'iothub-expiry is not an HTTP date'),
 error_re('ArgumentInvalid', 'invalid device id'),
 error_re('IotHubUnauthorizedAccess'),
 qr/^$/]
--- redis_check
LLEN iothub:test:{dev1}:c2d => 1
EXISTS iothub:test:{ghost}:c2d => 0



=== TEST 15: a 64 KB message is delivered whole
--- request eval
[put_device('dev1'), send_c2d('dev1', join('', map { chr(65 + $_ % 26) } 0 .. 65535), ['iothub-messageid', 'big'])]
--- error_code eval
[200, 204]
--- mqtt eval
[c2d_device(),
 # a value over 64 bytes makes Redis keep the hash unordered: the bag as a set
 [expect => c2d_like(1, 'dev1', join('', map { chr(65 + $_ % 26) } 0 .. 65535),
                     'iothub-ack=none', '%24.mid=big')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 16: modules have no C2D: their SUBSCRIBE to the device's devicebound filter gets 0x80; messages go to the device
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[conn => 'm'],
 [connect => {device => 'dev1', module => 'm1'}],
 [send => mqtt_subscribe(1, [$C2D, 1], ['devices/dev1/modules/m1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 0x80, 0x80)],
 [request => send_c2d('dev1', 'for the device'), 204],
 [silent => 0.3],
 [request => "GET /devices/dev1/modules/m1?$V", 200, qr/"cloudToDeviceMessageCount":0,/],
 [conn => 'a'],
 c2d_device(),
 [expect => plain(1, 'for the device')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]



=== TEST 17: deleting the device while connected closes its session and its modules' sessions and drops its queue
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[c2d_device({device => 'dev1', clean => 0}),
 [conn => 'm'],
 [connect => {device => 'dev1', module => 'm1', clean => 0}],
 [conn => 'a'],
 [request => send_c2d('dev1', 'in flight'), 204],
 [expect => plain(1, 'in flight')],
 [request => send_c2d('dev1', 'queued'), 204],
 [request => r(DELETE => '/devices/dev1'), 204],
 [closed => 2],
 [conn => 'm'],
 [closed => 2],
 [redis => 'KEYS iothub:test:{dev1}*', [], 1],
 [connect => 'dev1', mqtt_connack(5)],
 [closed => 2]]
--- error_log
identity not registered



=== TEST 18: deleting a module closes the module's session only
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[c2d_device(),
 [conn => 'm'],
 [connect => {device => 'dev1', module => 'm1', clean => 0}],
 [request => r(DELETE => '/devices/dev1/modules/m1'), 204],
 [closed => 2],
 [redis => 'EXISTS iothub:test:{dev1}:presence:m1 iothub:test:{dev1}:session:m1', 0, 1],
 [conn => 'a'],
 [request => send_c2d('dev1', 'still here'), 204],
 [expect => plain(1, 'still here')]]



=== TEST 19: disabling the device (PUT status disabled) closes its session; it shows Disconnected and cannot connect
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device(),
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Connected"/],
 [request => {%{put_device('dev1', status => 'disabled')}, headers => {'If-Match' => '"*"'}}, 200,
  qr/"status":"disabled"/],
 [closed => 2],
 [connect => 'dev1', mqtt_connack(5)],
 [closed => 2],
 [request => "GET /devices/dev1?$V", 200, qr/"connectionState":"Disconnected"/, 2],
 [redis => 'EXISTS iothub:test:{dev1}:presence', 0]]
--- error_log
the device is disabled



=== TEST 20: a message queued for a disabled device waits; enabled again, the device gets it
--- request eval
[put_device('dev1'),
 {%{put_device('dev1', status => 'disabled')}, headers => {'If-Match' => '"*"'}},
 send_c2d('dev1', 'kept'),
 {%{put_device('dev1')}, headers => {'If-Match' => '"*"'}}]
--- error_code eval
[200, 200, 204, 200]
--- mqtt eval
[c2d_device(),
 [expect => plain(1, 'kept')]]



=== TEST 21: takeover with a message in flight: the newer connection gets it again
--- request eval
put_device('dev1')
--- mqtt eval
[c2d_device({device => 'dev1', clean => 0}),
 [request => send_c2d('dev1', 'handed over', ['iothub-messageid', 'h']), 204],
 [expect => c2d(1, 'dev1', 'handed over', 'iothub-ack=none', '%24.mid=h')],
 [conn => 'b'],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [conn => 'b'],
 # a's release comes after b's first look at the queue: b must be told
 [expect => c2d(1, 'dev1', 'handed over', 'iothub-ack=none', '%24.mid=h'), 3],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2]]
