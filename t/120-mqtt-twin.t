# MQTT twin (reference/mqtt.md 6-7, messaging.md 7): GET on
# $iothub/twin/GET/ answered on $iothub/twin/res/200/ with the device view,
# reported patches (merge, nulls delete, $version, 204 with &$version=),
# refused patches (res/400/ with a JSON body holding errorCode), desired
# notifications after service PATCH and PUT (only to sessions subscribed to
# $iothub/twin/PATCH/properties/desired/#), module twins, and what a
# persistent session keeps.

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $RES = '$iothub/twin/res/#';
our $DES = '$iothub/twin/PATCH/properties/desired/#';

# --- frames ------------------------------------------------------------------

sub get_twin {
    my ($rid, $body) = @_;
    return mqtt_publish(topic => "\$iothub/twin/GET/?\$rid=$rid",
                        payload => $body // ' ');   # Node sends one space
}

sub patch_reported {
    my ($rid, $json) = @_;
    return mqtt_publish(
        topic => "\$iothub/twin/PATCH/properties/reported/?\$rid=$rid",
        payload => $json);
}

# A twin response: res($status, $rid, $body, $version).
sub res {
    my ($status, $rid, $body, $version) = @_;
    return mqtt_publish(topic => "\$iothub/twin/res/$status/?\$rid=$rid"
                                 . (defined $version ? "&\$version=$version" : ''),
                        payload => $body // '');
}

# The device view: view('"a":1', 2, '', 1) is
# {"desired":{"a":1,"$version":2},"reported":{"$version":1}}.
sub view {
    my ($d, $dv, $r, $rv) = @_;
    my $sec = sub { my ($m, $v) = @_; '{' . ($m eq '' ? '' : "$m,") . "\"\$version\":$v}" };
    return '{"desired":' . $sec->($d, $dv) . ',"reported":' . $sec->($r, $rv) . '}';
}

sub desired_note {
    my ($version, $json) = @_;
    return mqtt_publish(
        topic => "\$iothub/twin/PATCH/properties/desired/?\$version=$version",
        payload => $json);
}

# A PUBLISH packet's parts, or undef when it is not one.
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
    my $rest = substr($body, 2 + $tl);
    my $qos = (ord($p) >> 1) & 3;
    return {qos => $qos, topic => substr($body, 2, $tl),
            id => $qos ? unpack('n', substr($rest, 0, 2, '')) : undef,
            payload => $rest};
}

# An expect check for an error response: QoS 0 on res/<status>/?$rid=<rid>
# (no $version), a JSON body with errorCode $code, a trackingId, a message
# matching $msg and a timestampUtc.
sub error_res {
    my ($status, $rid, $code, $msg) = @_;
    return sub {
        my $f = publish_fields(shift) or return 0;
        my $b = eval { JSON::PP::decode_json($f->{payload}) };
        my @why;
        push @why, "qos $f->{qos}" if $f->{qos};
        push @why, "topic $f->{topic}"
            if $f->{topic} ne "\$iothub/twin/res/$status/?\$rid=$rid";
        push @why, "body not JSON: $f->{payload}" unless ref $b eq 'HASH';
        if (ref $b eq 'HASH') {
            push @why, "errorCode " . ($b->{errorCode} // 'none')
                unless ($b->{errorCode} // '') eq $code;
            push @why, "message " . ($b->{message} // 'none')
                unless defined $b->{message} && $b->{message} =~ $msg;
            push @why, 'trackingId' unless ($b->{trackingId} // '') =~ /^[0-9a-f]+$/;
            push @why, 'timestampUtc'
                unless ($b->{timestampUtc} // '') =~ /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
            push @why, 'keys ' . join ',', sort keys %$b
                unless join(',', sort keys %$b) eq 'errorCode,message,timestampUtc,trackingId';
        }
        Test::More::diag("error response: @why") if @why;
        return !@why;
    };
}

# $n levels of objects below the section: {"l1":{"l2":...{"x":1}...}}.
sub nest {
    my $n = shift;
    return '{' . join('', map { "\"l$_\":{" } 1 .. $n) . '"x":1' . '}' x ($n + 1);
}

sub r {
    my ($method, $path, $body, %o) = @_;
    return {method => $method, path => "$path?$V",
            (defined $body ? (body => $body) : ()), %o};
}

# A device connected and subscribed to twin responses (and desired
# notifications when $des): the steps.
sub twin_device {
    my ($args, $des) = @_;
    return ([connect => $args],
            [send => mqtt_subscribe(1, [$RES, 0], $des ? [$DES, 0] : ())],
            [expect => mqtt_suback(1, 0, $des ? 0 : ())]);
}

our @VERSIONS;

run_tests();

__DATA__

=== TEST 1: GET of a new device's twin: empty sections at $version 1; Node's " " and the C SDK's empty body
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => get_twin('1')],
 [expect => res(200, '1', view('', 1, '', 1))],
 [send => get_twin('2', '')],
 [expect => res(200, '2', view('', 1, '', 1))],
 [send => get_twin('4f6f2c1e-7c4a-4b8e-9a1d-0c3b5e7f9a11', '{"ignored":true}')],
 [expect => res(200, '4f6f2c1e-7c4a-4b8e-9a1d-0c3b5e7f9a11', view('', 1, '', 1))],
 [redis => 'HGET iothub:test:{dev1}:twin version', 1]]
--- no_error_log
[error]



=== TEST 2: reported patch: 204 with the new $version and an empty body; GET shows the merge
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => patch_reported('10', '{"fw":"1.2","net":{"ssid":"lab","rssi":-50},"list":[1,"a",null]}')],
 [expect => res(204, '10', '', 2)],
 [send => get_twin('11')],
 [expect => res(200, '11', view('', 1, '"fw":"1.2","net":{"ssid":"lab","rssi":-50},"list":[1,"a",null]', 2))],
 [send => patch_reported('12', '{"net":{"rssi":-40},"list":[2],"up":true}')],
 [expect => res(204, '12', '', 3)],
 [send => get_twin('13')],
 [expect => res(200, '13', view('', 1, '"fw":"1.2","net":{"ssid":"lab","rssi":-40},"list":[2],"up":true', 3))],
 [redis => 'HGET iothub:test:{dev1}:twin reportedVersion', 3],
 [redis => 'HGET iothub:test:{dev1}:twin desiredVersion', 1],
 [redis => 'HGET iothub:test:{dev1}:twin version', 3],
 # the service sees it, with metadata
 [request => "GET /twins/dev1?$V", 200,
  qr/"reported":\{"fw":"1\.2","net":\{"ssid":"lab","rssi":-40\},"list":\[2\],"up":true,"\$metadata":\{"\$lastUpdated":"20[^"]+","fw":\{"\$lastUpdated":"20[^"]+"\},.*"\$version":3\}/]]



=== TEST 3: nulls delete (also nested), deleting a missing key is a no-op that still counts a version
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => patch_reported('1', '{"a":1,"b":{"c":2,"d":3},"e":"x"}')],
 [expect => res(204, '1', '', 2)],
 [send => patch_reported('2', '{"a":null,"b":{"c":null}}')],
 [expect => res(204, '2', '', 3)],
 [send => get_twin('3')],
 [expect => res(200, '3', view('', 1, '"b":{"d":3},"e":"x"', 3))],
 [send => patch_reported('4', '{"zz":null}')],
 [expect => res(204, '4', '', 4)],
 [send => patch_reported('5', '{"b":null,"e":null}')],
 [expect => res(204, '5', '', 5)],
 [send => get_twin('6')],
 [expect => res(200, '6', view('', 1, '', 5))],
 [request => "GET /twins/dev1?$V", 200,
  qr/"reported":\{"\$metadata":\{"\$lastUpdated":"[^"]+"\},"\$version":5\}/]]



=== TEST 4: invalid patches: res/400/ with errorCode in the body, nothing stored, the connection stays
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => patch_reported('1', '{"a.b":1}')],
 [expect => error_res(400, '1', 400004, qr/a\.b.*invalid character '\.'/)],
 [send => patch_reported('2', '{"$x":1}')],
 [expect => error_res(400, '2', 400004, qr/\$x.*invalid character '\$'/)],
 [send => patch_reported('3', '{"ok":{"in ner":1}}')],
 [expect => error_res(400, '3', 400004, qr/in ner.*invalid character ' '/)],
 [send => patch_reported('4', '{"o":{"k.":1}}')],
 [expect => error_res(400, '4', 400004, qr/k\./)],
 [send => patch_reported('5', '{"fw":')],
 [expect => error_res(400, '5', 400004, qr/./)],
 [send => patch_reported('6', '[1,2]')],
 [expect => error_res(400, '6', 400004, qr/./)],
 [send => patch_reported('7', '')],
 [expect => error_res(400, '7', 400004, qr/./)],
 [send => patch_reported('8', '{"s":"' . ('x' x 4097) . '"}')],
 [expect => error_res(400, '8', 400004, qr/longer than 4096/)],
 [send => patch_reported('9', nest(11))],
 [expect => error_res(400, '9', 400004, qr/deeper than 10/)],
 [send => patch_reported('10', '{"n":4503599627370496}')],
 [expect => error_res(400, '10', 400004, qr/integer range/)],
 [send => mqtt_pingreq()],
 [expect => mqtt_pingresp()],
 [send => get_twin('11')],
 [expect => res(200, '11', view('', 1, '', 1))],
 # 10 levels and the largest integer are fine
 [send => patch_reported('12', '{"n":4503599627370495,' . substr(nest(10), 1))],
 [expect => res(204, '12', '', 2)],
 [redis => 'HGET iothub:test:{dev1}:twin reportedVersion', 2]]
--- no_error_log
[error]



=== TEST 5: desired notification after a service PATCH: the patch with "$version" on ?$version=<v>
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1', 1),
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"interval":30,"mode":{"a":"eco"}}}}'),
  200, qr/"desired":\{"interval":30,"mode":\{"a":"eco"\},"\$metadata":.*"\$version":2\}/],
 [expect => desired_note(2, '{"interval":30,"mode":{"a":"eco"},"$version":2}')],
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"interval":null,"mode":{"b":1}}}}'),
  200, qr/"desired":\{"mode":\{"a":"eco","b":1\},"\$metadata":.*"\$version":3\}/],
 [expect => desired_note(3, '{"interval":null,"mode":{"b":1},"$version":3}')],
 # tags alone change no desired property: no notification
 [request => r(PATCH => '/twins/dev1', '{"tags":{"site":"lab"}}'), 200,
  qr/"tags":\{"site":"lab"\}/],
 [silent => 0.3],
 # an empty desired object still makes a new desired version
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{}}}'), 200,
  qr/"\$version":4\}/],
 [expect => desired_note(4, '{"$version":4}')],
 [send => get_twin('g')],
 [expect => res(200, 'g', view('"mode":{"a":"eco","b":1}', 4, '', 1))]]
--- no_error_log
[error]



=== TEST 6: a service PUT (replace) notifies the whole new desired section
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1', 1),
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"a":1,"b":{"c":2}}}}'), 200],
 [expect => desired_note(2, '{"a":1,"b":{"c":2},"$version":2}')],
 [request => r(PUT => '/twins/dev1', '{"tags":{"t":1},"properties":{"desired":{"b":{"d":3},"e":[1,2]}}}'),
  200, qr/"tags":\{"t":1\},"properties":\{"desired":\{"b":\{"d":3\},"e":\[1,2\],"\$metadata":/],
 [expect => desired_note(3, '{"b":{"d":3},"e":[1,2],"$version":3}')],
 [send => get_twin('x')],
 [expect => res(200, 'x', view('"b":{"d":3},"e":[1,2]', 3, '', 1))],
 # a PUT without desired empties it, and says so
 [request => r(PUT => '/twins/dev1', '{"tags":{}}'), 200],
 [expect => desired_note(4, '{"$version":4}')],
 [send => get_twin('y')],
 [expect => res(200, 'y', view('', 4, '', 1))]]



=== TEST 7: notifications go only to sessions subscribed to desired; UNSUBSCRIBE stops them; reported patches notify nobody
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[twin_device('dev1', 1),
 [conn => 'b'],
 twin_device('dev2'),
 [request => r(PATCH => '/twins/dev2', '{"properties":{"desired":{"x":1}}}'), 200],
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"y":1}}}'), 200],
 [silent => 0.3],
 [send => get_twin('1')],
 [expect => res(200, '1', view('"x":1', 2, '', 1))],
 [conn => 'a'],
 [expect => desired_note(2, '{"y":1,"$version":2}')],
 [send => patch_reported('r', '{"k":"v"}')],
 [expect => res(204, 'r', '', 2)],
 [send => mqtt_unsubscribe(5, $DES)],
 [expect => mqtt_unsuback(5)],
 [redis => 'HGET iothub:test:{dev1}:presence features', 2, 1],
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"y":2}}}'), 200],
 [silent => 0.3],
 [send => get_twin('2')],
 [expect => res(200, '2', view('"y":2', 3, '"k":"v"', 2))]]



=== TEST 8: a persistent session keeps the desired subscription: notified after a reconnect without subscribing
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device({device => 'dev1', clean => 0}, 1),
 ['close'],
 [sleep => 0.2],
 [connect => {device => 'dev1', clean => 0}, mqtt_connack(0, 1)],
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"p":true}}}'), 200],
 [expect => desired_note(2, '{"p":true,"$version":2}')],
 [send => get_twin('after')],
 [expect => res(200, 'after', view('"p":true', 2, '', 1))],
 [send => mqtt_disconnect()],
 [closed => 2],
 # clean session 1: no subscription, no notification
 [connect => {device => 'dev1', clean => 1}],
 [request => r(PATCH => '/twins/dev1', '{"properties":{"desired":{"p":false}}}'), 200],
 [silent => 0.3]]



=== TEST 9: module twins: GET, reported patch and desired notification are the module's, not the device's
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[twin_device('dev1', 1),
 [conn => 'm'],
 twin_device({device => 'dev1', module => 'm1'}, 1),
 [send => get_twin('1')],
 [expect => res(200, '1', view('', 1, '', 1))],
 [send => patch_reported('2', '{"mod":"yes"}')],
 [expect => res(204, '2', '', 2)],
 [request => r(PATCH => '/twins/dev1/modules/m1', '{"properties":{"desired":{"speed":3}}}'),
  200, qr/^\{"deviceId":"dev1","moduleId":"m1",.*"desired":\{"speed":3,.*"reported":\{"mod":"yes",/],
 [expect => desired_note(2, '{"speed":3,"$version":2}')],
 [send => get_twin('3')],
 [expect => res(200, '3', view('"speed":3', 2, '"mod":"yes"', 2))],
 [conn => 'a'],
 [silent => 0.2],
 [send => get_twin('4')],
 [expect => res(200, '4', view('', 1, '', 1))],
 [redis => 'HGET iothub:test:{dev1}:twin:m1 reportedVersion', 2],
 [redis => 'HGET iothub:test:{dev1}:twin reportedVersion', 1]]



=== TEST 10: request ids are echoed as sent; a twin request without $rid, or one over 128 bytes, closes the connection
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => mqtt_publish(topic => '$iothub/twin/GET/?$rid=a%2Fb&x=1', payload => '')],
 [expect => res(200, 'a%2Fb', view('', 1, '', 1))],
 [send => mqtt_publish(topic => '$iothub/twin/PATCH/properties/reported/?$version=9&$rid=77',
                       payload => '{"v":1}')],
 [expect => res(204, '77', '', 2)],
 [send => get_twin('r' x 128)],
 [expect => res(200, 'r' x 128, view('', 1, '"v":1', 2))],
 [send => get_twin('r' x 129)],
 [closed => 2],
 [connect => 'dev1'],
 [send => mqtt_publish(topic => '$iothub/twin/GET/', payload => '')],
 [closed => 2]]
--- error_log
twin request id too long



=== TEST 11: the twin of a device deleted while connected: the session ends
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => get_twin('1')],
 [expect => res(200, '1', view('', 1, '', 1))],
 [request => {method => 'DELETE', path => "/devices/dev1?$V"}, 204],
 [closed => 2],
 [redis => 'EXISTS iothub:test:{dev1}:twin', 0]]



=== TEST 12: GET and patches pipelined in one write: run one at a time, answered in order
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => join '', get_twin('g0'), (map { patch_reported("p$_", "{\"k$_\":$_}") } 1 .. 6),
                   get_twin('g1')],
 [expect => join '', res(200, 'g0', view('', 1, '', 1)),
                     (map { res(204, "p$_", '', $_ + 1) } 1 .. 6),
                     res(200, 'g1', view('', 1, '"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6', 7))]]
--- no_error_log
[error]



=== TEST 13: 20 reported patches pipelined, more than the 16 a session holds: reading waits, all answered 204 in order
--- request eval
put_device('dev1')
--- mqtt eval
[twin_device('dev1'),
 [send => join '', map { patch_reported("p$_", "{\"k$_\":$_}") } 1 .. 20],
 [expect => join('', map { res(204, "p$_", '', $_ + 1) } 1 .. 20), 10],
 [send => get_twin('end')],
 [expect => res(200, 'end', view('', 1, join(',', map { "\"k$_\":$_" } 1 .. 20), 21))],
 [redis => 'HGET iothub:test:{dev1}:twin reportedVersion', 21]]
--- no_error_log
[error]
