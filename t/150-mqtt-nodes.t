# Two nodes sharing Redis (docs/architecture.md, redis-schema.md "Inbox
# messages"): a device connected to node 1 served by REST calls on node 2
# (C2D, desired notifications, direct methods whose answer goes back to the
# caller's inbox), takeover across nodes, and a device whose session moved
# from node 1 to node 2.

use lib 't/lib';
use Test::IotHub;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $C2D = 'devices/dev1/messages/devicebound/#';
our $DES = '$iothub/twin/PATCH/properties/desired/#';
our $MET = '$iothub/methods/POST/#';
our $RES = '$iothub/twin/res/#';
our (%CALL, %RID);

# --- REST calls in flight (as in t/140-mqtt-methods.t) ---------------------------

sub call_start {
    my ($name, $path, $body, %o) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $port = (node_port($o{node} // 1))[0];
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Timeout => 5)
            or return fail("$t: connect to $port: $!");
        my $req = "POST $path?$V HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                . 'Authorization: ' . sas_token(policy => 'service') . "\r\n"
                . "Content-Type: application/json; charset=utf-8\r\n"
                . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
        my $n = syswrite($s, $req);
        return fail("$t: write: $!") unless ($n // 0) == length $req;
        $CALL{$name} = {sock => $s, t0 => time};
    }];
}

sub call_end {
    my ($name, $status, $body, %o) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $c = delete $CALL{$name} or return fail("$t: no call $name");
        my ($raw, $sel) = ('', IO::Select->new($c->{sock}));
        my $deadline = time + ($o{timeout} // 10);
        while ((my $left = $deadline - time) > 0) {
            last unless $sel->can_read($left);
            last unless sysread($c->{sock}, $raw, 65536, length $raw);
        }
        my $took = time - $c->{t0};
        close $c->{sock};
        my ($head, $b) = split /\r\n\r\n/, $raw, 2;
        my ($st) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
        $b = substr($b, 0, $1) if ($head // '') =~ /^Content-Length:\s*(\d+)/mi;
        is($st // "no answer ($raw)", $status, "$t: call $name status");
        ref $body ? like($b, $body, "$t: call $name body")
                  : is($b, $body, "$t: call $name body") if defined $body;
        ok($took >= $o{within}[0] && $took <= $o{within}[1],
           sprintf '%s: call %s answered after %.2f s', $t, $name, $took)
            if $o{within};
    }];
}

sub publish_fields {
    my $p = shift // return undef;
    return undef unless length $p >= 2 && (ord($p) >> 4) == 3;
    my ($i, $len, $m) = (1, 0, 1);
    while (1) {
        my $b = ord substr($p, $i++, 1);
        $len += ($b & 0x7f) * $m;
        $m *= 128;
        last unless $b & 0x80;
    }
    my $body = substr($p, $i, $len);
    my $tl = unpack 'n', $body;
    my $qos = (ord($p) >> 1) & 3;
    my $rest = substr($body, 2 + $tl);
    return {qos => $qos, topic => substr($body, 2, $tl),
            id => $qos ? unpack('n', substr($rest, 0, 2, '')) : undef,
            payload => $rest};
}

sub method_req {
    my ($name, $payload, $key) = @_;
    return sub {
        my $f = publish_fields(shift) or return 0;
        my $ok = $f->{qos} == 0
                 && $f->{topic} =~ m{^\$iothub/methods/POST/\Q$name\E/\?\$rid=([0-9a-f]{32}\.\d+\.[0-9a-f]{16})$}
                 && $f->{payload} eq $payload;
        $RID{$key // 'a'} = $1 if $ok;
        diag("method request: topic $f->{topic} payload $f->{payload}") unless $ok;
        return $ok;
    };
}

sub method_res {
    my ($status, $body, $key) = @_;
    return [send => sub {
        mqtt_publish(topic => "\$iothub/methods/res/$status/?\$rid=" . ($RID{$key // 'a'} // 'none'),
                     payload => $body);
    }];
}

sub c2d {
    my ($id, $body, @bag) = @_;
    return mqtt_publish(
        topic => 'devices/dev1/messages/devicebound/'
                 . join('&', '%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound', @bag),
        qos => 1, id => $id, payload => $body);
}

sub desired_note {
    my ($version, $json) = @_;
    return mqtt_publish(
        topic => "\$iothub/twin/PATCH/properties/desired/?\$version=$version",
        payload => $json);
}

# A request spec for node $node.
sub on {
    my ($node, $method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V", node => $node,
            (defined $body ? (body => $body) : ()), %o};
}

# Connected (clean 0) and subscribed to C2D, desired, methods and twin
# responses.
sub full_device {
    return ([connect => {device => 'dev1', clean => 0}],
            [send => mqtt_subscribe(1, [$C2D, 1], [$DES, 0], [$MET, 0], [$RES, 0])],
            [expect => mqtt_suback(1, 1, 0, 0, 0)]);
}

run_tests();

__DATA__

=== TEST 1: device on node 1, C2D sent and purged through node 2
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[full_device(),
 [request => on(2, POST => '/devices/dev1/messages/devicebound', 'via node 2',
                headers => [['iothub-messageid', 'n2'], ['iothub-ack', 'full']]), 204, ''],
 [expect => c2d(1, 'via node 2', 'iothub-ack=full', '%24.mid=n2')],
 [request => on(2, POST => '/devices/dev1/messages/devicebound', 'second'), 204],
 [request => on(2, GET => '/devices/dev1'), 200, qr/"connectionState":"Connected",.*"cloudToDeviceMessageCount":2,/],
 [send => mqtt_puback(1)],
 [expect => c2d(2, 'second', 'iothub-ack=none')],
 [request => on(2, DELETE => '/devices/dev1/commands'), 200,
  '{"deviceId":"dev1","moduleId":null,"totalMessagesPurged":1}'],
 [send => mqtt_puback(2)],
 [silent => 0.2],
 [perl => sub {
     my (undef, $t) = @_;
     my $f = redis_cmd(qw(XRANGE iothub:test:feedback - +));
     is(scalar @$f, 1, "$t: one feedback record");
     my %r = @{$f->[0][1] || []};
     is("$r{statusCode} $r{originalMessageId} $r{deviceId}", 'Success n2 dev1', "$t: Success for n2");
 }]]
--- no_error_log
[error]



=== TEST 2: device on node 1, desired patch through node 2: notified; its reported patch read through node 2
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[full_device(),
 [request => on(2, PATCH => '/twins/dev1', '{"properties":{"desired":{"from":"node2"}}}'), 200,
  qr/"desired":\{"from":"node2",/],
 [expect => desired_note(2, '{"from":"node2","$version":2}')],
 [request => on(2, PUT => '/twins/dev1', '{"properties":{"desired":{"all":"new"}}}'), 200],
 [expect => desired_note(3, '{"all":"new","$version":3}')],
 [send => mqtt_publish(topic => '$iothub/twin/PATCH/properties/reported/?$rid=1',
                       payload => '{"seen":3}')],
 [expect => mqtt_publish(topic => '$iothub/twin/res/204/?$rid=1&$version=2')],
 [request => on(2, GET => '/twins/dev1'), 200,
  qr/"desired":\{"all":"new",.*"\$version":3\},"reported":\{"seen":3,.*"\$version":2\}/]]



=== TEST 3: device on node 1, method called on node 2: the request names node 2's inbox, the answer goes back there
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[full_device(),
 call_start(n2 => '/twins/dev1/methods', '{"methodName":"ping","payload":{"n":2}}', node => 2),
 [expect => method_req('ping', '{"n":2}', 'n2')],
 method_res(200, '{"pong":2}', 'n2'),
 call_end(n2 => 200, '{"status":200,"payload":{"pong":2}}', within => [0, 1]),
 call_start(n1 => '/twins/dev1/methods', '{"methodName":"ping","payload":{"n":1}}', node => 1),
 [expect => method_req('ping', '{"n":1}', 'n1')],
 method_res(201, '{"pong":1}', 'n1'),
 call_end(n1 => 200, '{"status":201,"payload":{"pong":1}}'),
 [perl => sub {   # two workers, two inboxes: the rids name different ones
     my (undef, $t) = @_;
     my ($h2, $h1) = map { /^([0-9a-f]{32})\./ ? $1 : '' } @RID{qw(n2 n1)};
     isnt($h2, $h1, "$t: node 2's rid names another inbox than node 1's");
     my %ch = map { ($_ => 1) } @{redis_cmd(qw(PUBSUB CHANNELS iothub:inbox:*))};
     ok($ch{"iothub:inbox:$h2"} && $ch{"iothub:inbox:$h1"}, "$t: both are live inboxes");
 }]]
--- no_error_log
[error]



=== TEST 4: takeover across nodes: node 1's connection closes; methods, desired notifications and C2D reach node 2
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[full_device(),
 [conn => 'b', 2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [request => on(1, GET => '/devices/dev1'), 200, qr/"connectionState":"Connected"/],
 [redis => 'HGET iothub:test:{dev1}:presence features', 15, 1],
 [conn => 'b'],
 call_start(m => '/twins/dev1/methods', '{"methodName":"moved","payload":"b"}', node => 1),
 [expect => method_req('moved', '"b"')],
 method_res(200, '"node 2"'),
 call_end(m => 200, '{"status":200,"payload":"node 2"}'),
 [request => on(1, PATCH => '/twins/dev1', '{"properties":{"desired":{"k":1}}}'), 200],
 [expect => desired_note(2, '{"k":1,"$version":2}')],
 [request => on(1, POST => '/devices/dev1/messages/devicebound', 'to node 2'), 204],
 [expect => c2d(1, 'to node 2', 'iothub-ack=none')],
 [send => mqtt_puback(1)],
 [redis => 'LLEN iothub:test:{dev1}:c2d', 0, 2],
 [send => mqtt_disconnect()],
 [closed => 2],
 [request => on(1, GET => '/devices/dev1'), 200, qr/"connectionState":"Disconnected"/, 2]]
--- error_log
replaced by a newer connection of the same identity



=== TEST 5: a method called on node 1 while the device is away reaches its new session on node 2 (connectTimeoutInSeconds)
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
# clean session 1 and a SUBSCRIBE after CONNACK: the session is registered
# before it counts as subscribed (with clean 0 see TEST 8)
[full_device(),
 [send => mqtt_disconnect()],
 [closed => 2],
 call_start(c => '/twins/dev1/methods',
            '{"methodName":"back","payload":null,"connectTimeoutInSeconds":5,"responseTimeoutInSeconds":5}',
            node => 1),
 [sleep => 0.5],
 [conn => 'b', 2],
 [connect => {device => 'dev1', clean => 1}],
 [send => mqtt_subscribe(2, [$MET, 0])],
 # the polling call may deliver before the SUBACK (MQTT 3.1.1 3.8.4)
 [expect_unordered => [mqtt_suback(2, 0), method_req('back', 'null')], 2],
 method_res(200, '"on node 2"'),
 call_end(c => 200, '{"status":200,"payload":"on node 2"}', within => [0.5, 2.5])]



=== TEST 6: takeover back and forth: each newer connection, on either node, closes the one before and gets the method
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
[full_device(),
 (map { my ($old, $new, $node, $n) = @$_;
        ([conn => $new, $node],
         [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
         [conn => $old],
         [closed => 2],
         [conn => $new],
         call_start("c$n" => '/twins/dev1/methods', qq{{"methodName":"m","payload":$n}}, node => 3 - $node),
         [expect => method_req('m', $n, "c$n")],
         method_res(200, $n, "c$n"),
         call_end("c$n" => 200, qq{{"status":200,"payload":$n}}))
      } [a => 'b', 2, 1], [b => 'c', 1, 2], [c => 'd', 2, 3])]
--- error_log
replaced by a newer connection of the same identity



=== TEST 7: a session whose worker stopped beating (no <inbox>:alive key) is offline for methods: 404103 at once
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
our $INBOX;
[[conn => 'b', 2],
 full_device(),
 [perl => sub {
     my (undef, $t) = @_;
     $INBOX = redis_cmd(qw(HGET iothub:test:{dev1}:presence inbox));
     like($INBOX, qr/^iothub:inbox:[0-9a-f]{32}$/, "$t: the session's inbox");
     is(redis_cmd('GET', "$INBOX:alive"), 1, "$t: its worker beats");
     my $ttl = redis_cmd('TTL', "$INBOX:alive");
     ok($ttl > 0 && $ttl <= 30, "$t: the beat expires ($ttl s)");
     redis_cmd('DEL', "$INBOX:alive");   # as if node 2 had died
 }],
 call_start(gone => '/twins/dev1/methods',
            '{"methodName":"m","responseTimeoutInSeconds":5}', node => 1),
 call_end(gone => 404, qr/^\{"Message":"\{\\"errorCode\\":404103,.*\\"info\\":\{\\"timeout\\":\\"00:00:00\\"\}/,
          within => [0, 1]),
 [silent => 0.2],
 [perl => sub { redis_cmd('SET', "$INBOX:alive", 1, 'EX', 30) }],
 call_start(back => '/twins/dev1/methods', '{"methodName":"m","payload":1}', node => 1),
 [expect => method_req('m', '1')],
 method_res(200, '1'),
 call_end(back => 200, '{"status":200,"payload":1}')]



=== TEST 8: race (opt-in, TEST_IOTHUB_RACE_ATTEMPTS=n): a call polling while the device reconnects with clean 0 on node 2 is delivered
--- nodes: 2
--- request eval
put_device('dev1')
--- mqtt eval
# Each attempt: a call with connectTimeoutInSeconds polls every 250 ms from
# node 1 while the device, away, reconnects on node 2 with clean session 0
# about 500 ms later (its subscriptions restored by session_connect.lua).
# A poll that runs just after session_connect.lua publishes the request to
# node 2's inbox before the worker registered the session: the request is
# dropped there, and the caller waits for its response timeout (504).
my $n = $ENV{TEST_IOTHUB_RACE_ATTEMPTS} || 0;
$n ? [full_device(),
      [send => mqtt_disconnect()],
      [closed => 2],
      [perl => sub {
          my (undef, $t) = @_;
          my @lost;
          for my $i (1 .. $n) {
              my $body = qq{{"methodName":"again","payload":$i,"connectTimeoutInSeconds":3,"responseTimeoutInSeconds":5}};
              my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => (node_port(1))[0])
                  or return fail("$t: connect: $!");
              print $s "POST /twins/dev1/methods?$V HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  . 'Authorization: ' . sas_token(policy => 'service') . "\r\n"
                  . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
              sleep 0.5;
              my $c = Test::IotHub::MQTT::Client->new(port => (node_port(2))[1]);
              $c->send(mqtt_connect(device => 'dev1', clean => 0));
              $c->read_bytes(4, 5);
              my ($p) = $c->read_packet(1);
              my $f = publish_fields($p);
              if ($f && $f->{topic} =~ m{\?\$rid=(.+)$}) {
                  $c->send(mqtt_publish(topic => "\$iothub/methods/res/200/?\$rid=$1",
                                        payload => $f->{payload}));
                  my $raw = '';
                  1 while sysread($s, $raw, 4096, length $raw);
              } else {
                  push @lost, $i;
              }
              close $s;
              $c->send(mqtt_disconnect());
              $c->read_all(2);
              $c->close;
          }
          ok(!@lost, "$t: every call reached the device") or diag("lost calls: @lost of $n");
      }]]
   : []
