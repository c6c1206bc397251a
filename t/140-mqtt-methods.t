# Direct methods over MQTT (reference/rest.md 8, mqtt.md 8, messaging.md
# 8): POST /twins/{id}/methods (and modules) reaches a session subscribed
# to $iothub/methods/POST/# as $iothub/methods/POST/{name}/?$rid=<rid>
# with the JSON payload; the device's $iothub/methods/res/{status}/?$rid=
# answers the caller with {"status":..,"payload":..}; 404103 when the
# device is not online within connectTimeoutInSeconds, 504101 after
# responseTimeoutInSeconds, 400/404/413 for bad calls.  The REST calls run
# alongside the device's steps: call_start sends one, call_end reads its
# answer.

use lib 't/lib';
use Test::IotHub;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(sleep time);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MET = '$iothub/methods/POST/#';
our (%CALL, %RID);

# --- REST calls in flight ----------------------------------------------------

# A step sending POST $path (api-version added) with $body; the answer is
# read by call_end($name).  Options: node, auth.
sub call_start {
    my ($name, $path, $body, %o) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $port = (node_port($o{node} // 1))[0];
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Timeout => 5)
            or return fail("$t: connect to $port: $!");
        my $req = "POST $path?$V HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                . 'Authorization: ' . ($o{auth} // sas_token(policy => 'service')) . "\r\n"
                . "Content-Type: application/json; charset=utf-8\r\n"
                . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
        my $n = syswrite($s, $req);
        return fail("$t: write: $!") unless ($n // 0) == length $req;
        $CALL{$name} = {sock => $s, t0 => time};
    }];
}

# A step reading the answer of call $name (within $o{timeout}, default 10 s):
# status, body (string, qr// or CODE given the decoded JSON), and with
# within => [min, max] the seconds it took since call_start.
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
        if (($head // '') =~ /^Transfer-Encoding:\s*chunked/mi) {
            my $d = '';
            while ($b =~ /\G([0-9a-fA-F]+)\r\n/gc && hex $1) {
                $d .= substr($b, pos($b), hex $1);
                pos($b) += hex($1) + 2;
            }
            $b = $d;
        } elsif (($head // '') =~ /^Content-Length:\s*(\d+)/mi) {
            is(length($b) - $1, 0, "$t: call $name: nothing after the body")
                or diag('after the body: ' . substr($b, $1));
            $b = substr($b, 0, $1);
        }
        is($st // "no answer ($raw)", $status, "$t: call $name status");
        if (ref $body eq 'CODE') {
            my $j = eval { JSON::PP::decode_json($b) };
            ok($body->($j), "$t: call $name body") or diag("body: $b");
        } elsif (ref $body) {
            like($b, $body, "$t: call $name body");
        } elsif (defined $body) {
            is($b, $body, "$t: call $name body");
        }
        like($head, qr/^Content-Type: application\/json; charset=utf-8\r?$/mi,
             "$t: call $name content type") if defined $body;
        like($head, qr/^\Q$o{header}\E\r?$/mi, "$t: call $name header $o{header}")
            if $o{header};
        ok($took >= $o{within}[0] && $took <= $o{within}[1],
           sprintf '%s: call %s answered after %.2f s, expected %s to %s s',
                   $t, $name, $took, @{$o{within}})
            if $o{within};
    }];
}

# The body of a method call.
sub call_body {
    my (%a) = @_;
    my $j = JSON::PP->new->canonical->allow_nonref;
    return '{' . join(',', map { $j->encode($_) . ':' . $a{$_} }
                           sort keys %a) . '}';
}

# --- the device's side ---------------------------------------------------------

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

# An expect check: a QoS 0 method request for $name (as it appears in the
# topic) with exactly $payload; its rid is kept as $RID{$key} (default 'a').
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

# A send step: the device's answer to request $key with $status and $body.
sub method_res {
    my ($status, $body, $key) = @_;
    return [send => sub {
        mqtt_publish(topic => "\$iothub/methods/res/$status/?\$rid=" . ($RID{$key // 'a'} // 'none'),
                     payload => $body);
    }];
}

sub method_device {
    my ($args) = @_;
    return ([connect => $args // 'dev1'],
            [send => mqtt_subscribe(1, [$MET, 0])],
            [expect => mqtt_suback(1, 0)]);
}

# The nested error envelope of methods (rest.md 2.1).
sub nested_re {
    my ($code, $timeout, $msg) = @_;
    return qr/^\{"Message":"\{\\"errorCode\\":$code,\\"trackingId\\":\\"[0-9a-f]{16}\\",\\"message\\":\\"\Q$msg\E\\",\\"info\\":\{\\"timeout\\":\\"$timeout\\"\},\\"timestampUtc\\":\\"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z\\"\}","ExceptionMessage":""\}$/;
}

our $OFFLINE = "The operation failed because the requested device isn't online or hasn't registered the direct method callback.";
our $LATE = 'Timed out waiting for the response from device.';

sub invoke {   # a synchronous call for the request steps
    my ($dev, $body, %o) = @_;
    return {method => 'POST', path => "/twins/$dev/methods?$V", body => $body, %o};
}

sub error_re {
    my ($code, $text) = @_;
    (my $json = $text // '') =~ s/(["\\])/\\$1/g;
    return qr/^\{"Message":"ErrorCode:\Q$code\E;\Q$json\E(?:[^"\\]|\\.)*","ExceptionMessage":"Tracking ID:[0-9a-f]{16}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d"\}$/;
}

# One round trip: the call, the request the device sees, its answer, the
# caller's result.
sub round_trip {
    my ($tag, $req_payload, $seen, $status, $answer, $result) = @_;
    return (call_start($tag, '/twins/dev1/methods',
                       call_body(methodName => '"echo"', responseTimeoutInSeconds => 5,
                                 defined $req_payload ? (payload => $req_payload) : ())),
            [expect => method_req('echo', $seen)],
            method_res($status, $answer),
            call_end($tag, 200, $result));
}

run_tests();

__DATA__

=== TEST 1: round trip: the request on $iothub/methods/POST/reboot/?$rid=<caller's inbox>.<n>, the answer back as {"status","payload"}
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 call_start(c1 => '/twins/dev1/methods',
            '{"methodName":"reboot","payload":{"delay":5,"why":"update"},"responseTimeoutInSeconds":30,"connectTimeoutInSeconds":0}'),
 [expect => method_req('reboot', '{"delay":5,"why":"update"}')],
 [perl => sub {   # the rid names the caller's inbox
     my (undef, $t) = @_;
     my ($hex) = $RID{a} =~ /^([0-9a-f]+)\./;
     my $ch = redis_cmd(qw(PUBSUB CHANNELS iothub:inbox:*));
     ok((grep { $_ eq "iothub:inbox:$hex" } @$ch), "$t: rid $RID{a} names an inbox")
         or diag("channels: @$ch");
 }],
 method_res(200, '{"result":"ok","took":1.50}'),
 call_end(c1 => 200, '{"status":200,"payload":{"result":"ok","took":1.50}}', within => [0, 1]),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
[error]



=== TEST 2: payloads round trip as JSON: null, "", {}, a string, a number, an array, true; no payload is null
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 (map { round_trip("p$_->[0]", $_->[1], $_->[1] // 'null', 200, $_->[1] // 'null',
                   '{"status":200,"payload":' . ($_->[1] // 'null') . '}') }
      [1, 'null'], [2, '""'], [3, '{}'], [4, '"hello \"world\""'], [5, '-42.5e3'],
      [6, '[1,"a",{"b":null}]'], [7, 'true'], [8, undef]),
 round_trip(p10 => '"w\u00f6rld"', "\"w\xc3\xb6rld\"", 200, '"\u00e9"',
            "{\"status\":200,\"payload\":\"\xc3\xa9\"}"),
 round_trip(p9 => '{"deep":{"er":[[]]}}', '{"deep":{"er":[[]]}}', 200, '{}',
            '{"status":200,"payload":{}}')]



=== TEST 3: the device's answer: empty is null, text that is not JSON becomes a string; any status passes through
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 round_trip(a1 => '1', '1', 200, '', '{"status":200,"payload":null}'),
 round_trip(a2 => '1', '1', 200, 'not json', '{"status":200,"payload":"not json"}'),
 round_trip(a3 => '1', '1', 201, '"created"', '{"status":201,"payload":"created"}'),
 round_trip(a4 => '1', '1', 404, 'null', '{"status":404,"payload":null}'),
 round_trip(a5 => '1', '1', 500, '{"error":"boom"}', '{"status":500,"payload":{"error":"boom"}}'),
 round_trip(a6 => '1', '1', 0, '0', '{"status":0,"payload":0}'),
 round_trip(a7 => '1', '1', -1, '[]', '{"status":-1,"payload":[]}'),
 round_trip(a8 => '1', '1', 999999999, '1', '{"status":999999999,"payload":1}')]



=== TEST 4: 404103 DeviceNotOnline (nested envelope) when the device is offline, connected without the subscription, or unsubscribed
--- request eval
[put_device('dev1'), invoke('dev1', '{"methodName":"m"}')]
--- error_code eval
[200, 404]
--- response_body_like eval
[undef, nested_re(404103, '00:00:00', $OFFLINE)]
--- response_headers eval
[undef, "iothub-errorcode: DeviceNotOnline\nContent-Type: application/json; charset=utf-8"]
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ['$iothub/twin/res/#', 0], ['devices/dev1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 0, 1)],
 [request => invoke('dev1', '{"methodName":"m"}'), 404, nested_re(404103, '00:00:00', $OFFLINE)],
 [send => mqtt_subscribe(2, [$MET, 0])],
 [expect => mqtt_suback(2, 0)],
 call_start(ok => '/twins/dev1/methods', '{"methodName":"m"}'),
 [expect => method_req('m', 'null')],
 method_res(200, 'null'),
 call_end(ok => 200, '{"status":200,"payload":null}'),
 [send => mqtt_unsubscribe(3, $MET)],
 [expect => mqtt_unsuback(3)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 3, 1],
 [request => invoke('dev1', '{"methodName":"m"}'), 404, nested_re(404103, '00:00:00', $OFFLINE)],
 [silent => 0.2]]



=== TEST 5: connectTimeoutInSeconds 1 and no device: 404103 after about 1 s, the timeout in info
--- request eval
put_device('dev1')
--- mqtt eval
[call_start(c => '/twins/dev1/methods', '{"methodName":"m","connectTimeoutInSeconds":1}'),
 call_end(c => 404, nested_re(404103, '00:00:01', $OFFLINE), within => [0.95, 2],
          header => 'iothub-errorcode: DeviceNotOnline')]



=== TEST 6: connectTimeoutInSeconds 5: the device connects and subscribes 1 s after the call and gets it; the caller gets the answer
--- request eval
put_device('dev1')
--- mqtt eval
# The waiting call may find the subscription stored before the SUBACK is
# sent: the request can come first (MQTT 3.1.1 section 3.8.4 allows it).
[call_start(c => '/twins/dev1/methods',
            '{"methodName":"wake","payload":{"n":1},"connectTimeoutInSeconds":5,"responseTimeoutInSeconds":5}'),
 [sleep => 1],
 [connect => 'dev1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect_unordered => [mqtt_suback(1, 0), method_req('wake', '{"n":1}')], 1.5],
 method_res(200, '"awake"'),
 call_end(c => 200, '{"status":200,"payload":"awake"}', within => [1, 2.5])]



=== TEST 7: responseTimeoutInSeconds 5 and no answer: 504101 after 5 s; the late answer is dropped; the next call works
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 call_start(late => '/twins/dev1/methods', '{"methodName":"slow","responseTimeoutInSeconds":5}'),
 [expect => method_req('slow', 'null', 'late')],
 call_end(late => 504, nested_re(504101, '00:00:05', $LATE), within => [4.9, 6.5],
          header => 'iothub-errorcode: GatewayTimeout'),
 method_res(200, '"too late"', 'late'),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 call_start(next => '/twins/dev1/methods', '{"methodName":"fast","responseTimeoutInSeconds":5}'),
 [expect => method_req('fast', 'null', 'next')],
 [perl => sub { isnt($RID{next}, $RID{late}, "$_[1]: a new rid") }],
 method_res(200, '"quick"', 'next'),
 call_end(next => 200, '{"status":200,"payload":"quick"}', within => [0, 1])]
--- no_error_log
[error]



=== TEST 8: bad calls: 400 for names, timeouts and bodies, 413 for payloads over 128 KB, 404 for unknown devices
--- request eval
my @bad = ('{}', '{"methodName":""}', '{"methodName":7}', '{"methodName":"a b"}',
           '{"methodName":"a/b"}', '{"methodName":"$x"}', '{"methodName":"x{1}"}',
           '{"methodName":"q?"}', '{"methodName":"' . ('n' x 129) . '"}',
           '{"methodName":"m","responseTimeoutInSeconds":4}',
           '{"methodName":"m","responseTimeoutInSeconds":301}',
           '{"methodName":"m","responseTimeoutInSeconds":"30"}',
           '{"methodName":"m","responseTimeoutInSeconds":5.5}',
           '{"methodName":"m","connectTimeoutInSeconds":-1}',
           '{"methodName":"m","connectTimeoutInSeconds":301}');
[put_device('dev1'),
 (map { invoke('dev1', $_) } @bad),
 invoke('dev1', 'not json'),
 invoke('dev1', '["m"]'),
 invoke('dev1', '{"methodName":"m","payload":' . '[' x 70 . ']' x 70 . '}'),
 invoke('dev1', '{"methodName":"m","payload":"' . ('x' x (128 * 1024)) . '"}'),
 invoke('ghost', '{"methodName":"m"}'),
 invoke('dev1', '{"methodName":"m"}', auth => 'registryReadWrite'),
 invoke('dev1', '{"methodName":"' . ('n' x 128) . '","responseTimeoutInSeconds":300,"connectTimeoutInSeconds":0}')]
--- error_code eval
[200, (400) x 18, 413, 404, 401, 404]
--- response_body_like eval
[undef,
 (error_re('ArgumentInvalid', 'methodName is missing or invalid')) x 9,
 (error_re('ArgumentInvalid', 'responseTimeoutInSeconds must be 5 to 300 and connectTimeoutInSeconds 0 to 300')) x 6,
 (error_re('IotHubFormatError', 'the body is not a JSON object')) x 2,
 error_re('ArgumentInvalid', 'the body nests too deep'),
 error_re('MessageTooLarge', 'the method payload is over 128 KB'),
 error_re('DeviceNotFound', 'Device ghost not registered'),
 error_re('IotHubUnauthorizedAccess'),
 nested_re(404103, '00:00:00', $OFFLINE)]



=== TEST 9: method names are percent-encoded in the topic
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 call_start(c => '/twins/dev1/methods', '{"methodName":"a#b+c&d%e~f*g!h\'i","payload":1}'),
 [expect => method_req("a%23b%2Bc%26d%25e~f*g!h'i", '1')],
 method_res(200, '2'),
 call_end(c => 200, '{"status":200,"payload":2}')]



=== TEST 10: module methods go to the module's session, device methods to the device's
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[method_device(),
 [conn => 'm'],
 method_device({device => 'dev1', module => 'm1'}),
 call_start(mod => '/twins/dev1/modules/m1/methods', '{"methodName":"mm","payload":{"to":"module"}}'),
 [expect => method_req('mm', '{"to":"module"}', 'mod')],
 [conn => 'a'],
 [silent => 0.2],
 call_start(dev => '/twins/dev1/methods', '{"methodName":"dm","payload":{"to":"device"}}'),
 [expect => method_req('dm', '{"to":"device"}', 'dev')],
 method_res(200, '"device"', 'dev'),
 call_end(dev => 200, '{"status":200,"payload":"device"}'),
 [conn => 'm'],
 [silent => 0.2],
 method_res(202, '"module"', 'mod'),
 call_end(mod => 200, '{"status":202,"payload":"module"}')]



=== TEST 11: a method on a module the device does not have: 404 ModuleNotFound, as for its twin
--- request eval
[put_device('dev1'),
 {method => 'POST', path => "/twins/dev1/modules/ghost/methods?$V", body => '{"methodName":"m"}'},
 {method => 'GET', path => "/twins/dev1/modules/ghost?$V"}]
--- error_code eval
[200, 404, 404]
--- response_body_like eval
[undef, error_re('ModuleNotFound', 'Module ghost not registered on device dev1'),
 error_re('ModuleNotFound', 'Module ghost not registered on device dev1')]
--- response_headers eval
[undef, 'iothub-errorcode: ModuleNotFound', 'iothub-errorcode: ModuleNotFound']



=== TEST 12: two calls in flight answered in reverse order: each caller gets its own answer
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 call_start(one => '/twins/dev1/methods', '{"methodName":"m1","payload":1}'),
 [expect => method_req('m1', '1', 'one')],
 call_start(two => '/twins/dev1/methods', '{"methodName":"m2","payload":2}'),
 [expect => method_req('m2', '2', 'two')],
 method_res(200, '"second"', 'two'),
 method_res(200, '"first"', 'one'),
 call_end(two => 200, '{"status":200,"payload":"second"}'),
 call_end(one => 200, '{"status":200,"payload":"first"}')]



=== TEST 13: answers nobody waits for are dropped: unknown request numbers, foreign inboxes, no dot, too long
--- request eval
put_device('dev1')
--- mqtt eval
my $res = sub { mqtt_publish(topic => "\$iothub/methods/res/200/?\$rid=$_[0]", payload => '1') };
[method_device(),
 [send => $res->('nodot')],
 [send => $res->('0123456789abcdef0123456789abcdef.1')],
 [send => $res->('.5')],
 [send => $res->('x' x 200 . '.1')],
 call_start(c => '/twins/dev1/methods', '{"methodName":"m"}'),
 [expect => method_req('m', 'null')],
 [send => sub { my ($hex) = $RID{a} =~ /^([0-9a-f]+)\./; $res->("$hex.999999") }],
 [send => sub { my ($hex) = $RID{a} =~ /^([0-9a-f]+)\./; $res->("$hex.x") }],
 method_res(201, '"real"'),
 call_end(c => 200, '{"status":201,"payload":"real"}'),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]
--- no_error_log
[error]



=== TEST 14: the device answers the same request twice at once: the second answer is dropped
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 call_start(c => '/twins/dev1/methods', '{"methodName":"m"}'),
 [expect => method_req('m', 'null')],
 method_res(201, '"real"'),
 method_res(202, '"again"'),
 [sleep => 0.2],
 call_end(c => 200, '{"status":201,"payload":"real"}'),
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()]]



=== TEST 15: a method answer with a status that is not a number is not a topic of the hub: closed
--- request eval
put_device('dev1')
--- mqtt eval
[method_device(),
 [send => mqtt_publish(topic => '$iothub/methods/res/abc/?$rid=1.1', payload => '1')],
 [closed => 2]]
--- error_log
PUBLISH to unknown topic "$iothub/methods/res/abc/?$rid=1.1"



=== TEST 16: after a takeover on one node, methods go to the newer connection (persistent subscription)
--- request eval
put_device('dev1')
--- mqtt eval
[method_device({device => 'dev1', clean => 0}),
 [conn => 'b'],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [conn => 'a'],
 [closed => 2],
 [conn => 'b'],
 call_start(c => '/twins/dev1/methods', '{"methodName":"here","payload":"b"}'),
 [expect => method_req('here', '"b"')],
 method_res(200, '"from b"'),
 call_end(c => 200, '{"status":200,"payload":"from b"}')]
