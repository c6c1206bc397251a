# The twin and direct methods over AMQP (reference/amqp.md 4, 7, 8): the
# twin link pair on /devices/{id}[/modules/{m}]/twin answers GET with the
# twin (desired and reported), PATCH /properties/reported with 204 and the
# new reported version, PUT and DELETE /notifications/twin/properties/
# desired with 204, each on the receiver with the request's correlation-id
# and a status annotation (int); bad requests get 400 and 413 with a JSON
# error body; after PUT a desired PATCH through REST reaches the device
# without a correlation-id and with a version annotation (long), after
# DELETE it does not.  Direct methods: a device with both links of
# /methods/devicebound gets a REST call as a message with a uuid
# correlation-id and IoThub-methodname; its answer (IoThub-status) is the
# caller's result; without both links 404 DeviceNotOnline, unless it
# attaches within connectTimeoutInSeconds.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use JSON::PP ();

require_modules(qw(core http mqtt amqp));

our $V = 'api-version=2021-04-12';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }";
our $DESIRED = '/notifications/twin/properties/desired';
our $JSON = JSON::PP->new->canonical;

sub check {
    my ($got, $want, $t) = @_;
    my $ok = ref $want eq 'Regexp' ? Test::More::like($got, $want, $t)
           : ref $want ? Test::More::is_deeply($got, $want, $t)
           : Test::More::is($got, $want, $t);
    return $ok;
}

# "dev1" or "dev1/m1": its addresses, audience and token
sub ident {
    my ($id) = @_;
    my ($d, $m) = split m{/}, $id;
    my $path = "/devices/$d" . (defined $m ? "/modules/$m" : '');
    return (path => $path,
            audience => 'localhost%2Fdevices%2F' . $d
                        . (defined $m ? "%2Fmodules%2F$m" : ''),
            token => device_token(device => $d,
                                  defined $m ? (module => $m) : ()));
}

sub put_token {
    my ($c, $id) = @_;
    my %i = ident($id);
    my $r = $c->cmd(op => 'cbs', audience => $i{audience}, token => $i{token});
    die "put-token $id: " . Test::More::explain($r)
        unless ($r->{status} // 0) == 200;
}

# A pair of links of $id on $what ("twin" or "methods/devicebound"), named
# "<prefix>-out" (the device's sender) and "<prefix>-in", paired as the
# SDKs pair them; $which limits it to one ("out" or "in").
sub pair {
    my ($c, $id, $what, $prefix, $which) = @_;
    my %i = ident($id);
    my $props = {'com.microsoft:channel-correlation-id' => "$prefix:$id",
                 'com.microsoft:api-version' => '2021-04-12'};
    my @settled = $what eq 'twin' ? (settled => 1) : ();
    for my $dir ('out', 'in') {
        next if $which && $which ne $dir;
        my $r = $c->cmd(op => $dir eq 'out' ? 'sender' : 'receiver',
                        name => "$prefix-$dir", address => "$i{path}/$what",
                        properties => $props, @settled);
        die "attach $prefix-$dir of $id: " . Test::More::explain($r)
            unless $r->{ok};
    }
}

# A client with the token of $id put and its twin pair attached.
sub twin_device {
    my ($id) = @_;
    my $c = amqp_client();
    put_token($c, $id);
    pair($c, $id, 'twin', 'twin');
    return $c;
}

# One twin request, pre-settled as the SDKs send it; the next message on
# the twin receiver.
sub twin_req {
    my ($c, $op, $resource, $body, $cid) = @_;
    my $r = $c->cmd(op => 'send', name => 'twin-out', settled => 1,
                    messages => [{
                        correlation_id => $cid // "cid-$op",
                        annotations => {operation => $op,
                                        defined $resource
                                            ? (resource => $resource) : ()},
                        body => $body // ' '}]);
    return $r if $r->{exception};
    return $c->cmd(op => 'receive', name => 'twin-in');
}

# Checks a twin response: status, correlation-id and, for errors, the
# errorCode of its JSON body; returns the message.
sub twin_res {
    my ($r, $t, $status, $cid, $code) = @_;
    my $m = $r->{message}
        or return Test::More::fail("$t: no response: " . $JSON->encode($r));
    check($m->{annotations}{status}, $status, "$t: status $status")
        or Test::More::diag($JSON->encode($m));
    check($m->{types}{status}, 'int32', "$t: status is an AMQP int");
    check($m->{correlation_id}, $cid, "$t: correlation-id");
    check($m->{correlation_id_type}, 'str', "$t: correlation-id a string");
    if ($code) {
        my $e = eval { $JSON->decode($m->{body}) } // {};
        check($e->{errorCode}, $code, "$t: errorCode $code")
            or Test::More::diag($m->{body});
    }
    return $m;
}

sub rest {
    my ($method, $path, $body) = @_;
    return http_request($method, "$path?$V",
                        [[Host => 'localhost'], [Connection => 'close'],
                         [Authorization => sas_token()],
                         [ 'Content-Type' => 'application/json' ],
                         ['Content-Length' => length($body // '')]],
                        $body // '');
}

# A method call in flight: POST .../methods with $name and $payload.
sub call {
    my ($target, $name, $payload, %o) = @_;
    my $body = $JSON->encode({methodName => $name,
                              responseTimeoutInSeconds => 5, %o});
    $body =~ s/\}$/,"payload":$payload}/ if defined $payload;
    return rest_start(POST => "/twins/$target/methods?$V", $body);
}

# The device receives the request: uuid correlation-id, method name, body.
sub method_req {
    my ($c, $t, $name, $payload) = @_;
    my $r = $c->cmd(op => 'receive', name => 'methods-in');
    my $m = $r->{message}
        or return Test::More::fail("$t: no request: " . $JSON->encode($r));
    check($m->{correlation_id_type}, 'UUID', "$t: correlation-id a uuid");
    check($m->{properties}{'IoThub-methodname'}, $name, "$t: method name");
    check($m->{body}, $payload, "$t: payload");
    check($m->{data_section}, 1, "$t: a data section");
    return $m->{correlation_id};
}

sub method_res {
    my ($c, $cid, $status, $body, %o) = @_;
    my %props = defined $status ? ('IoThub-status' => $status) : ();
    return $c->cmd(op => 'send', name => 'methods-out', messages => [{
        correlation_id => $cid,
        correlation_id_type => $o{type} // 'uuid',
        properties => \%props, int_properties => ['IoThub-status'],
        body => $body}]);
}

sub offline {
    my ($target, $t) = @_;
    my $r = rest(POST => "/twins/$target/methods", '{"methodName":"m"}');
    check($r->{status}, 404, "$t: 404");
    check($r->{headers}{'iothub-errorcode'}[0], 'DeviceNotOnline',
          "$t: DeviceNotOnline");
}

run_tests();

__DATA__

=== TEST 1: twin GET: the device's view of the twin, desired and reported with their versions
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'),
 {method => 'PATCH', path => "/twins/dev1?$::V",
  body => '{"properties":{"desired":{"interval":30}}}'}]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = twin_device('dev1');
    my $m = twin_res(twin_req($c, 'GET', undef, ' ', 'c-get'), $t, 200,
                     'c-get');
    check($m->{data_section}, 1, "$t: a data section");
    check(eval { $JSON->decode($m->{body}) },
          {desired => {interval => 30, '$version' => 2},
           reported => {'$version' => 1}}, "$t: the twin");

    # unsettled, on a sender of mixed settle mode: accepted, then answered
    my $r = $c->cmd(op => 'sender', name => 'twin-u', link_name => 'u',
                    address => '/devices/dev1/twin',
                    properties => {'com.microsoft:channel-correlation-id'
                                   => 'twin:dev1'});
    check($r->{ok}, 1, "$t: a second twin sender")
        or Test::More::diag($JSON->encode($r));
    $r = $c->cmd(op => 'send', name => 'twin-u', messages => [
        {correlation_id => 'c-u', annotations => {operation => 'GET'}}]);
    check($r->{outcomes}, ['accepted'], "$t: unsettled request accepted");
    twin_res($c->cmd(op => 'receive', name => 'twin-in'), "$t: unsettled",
             200, 'c-u');
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 2: PATCH reported: 204 with the new reported version (long); REST reads it; errors 400 and 413 keep the links
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = twin_device('dev1');
    my $m = twin_res(twin_req($c, 'PATCH', '/properties/reported',
                              '{"temp":21,"fw":{"v":"1.2"}}', 'c1'),
                     $t, 204, 'c1');
    check($m->{annotations}{version}, 2, "$t: reported version 2");
    check($m->{types}{version}, 'int', "$t: version is an AMQP long");
    check($m->{body}, undef, "$t: no body");
    $m = twin_res(twin_req($c, 'PATCH', '/properties/reported',
                           '{"temp":22}', 'c2'), $t, 204, 'c2');
    check($m->{annotations}{version}, 3, "$t: reported version 3");

    my $r = rest(GET => '/twins/dev1');
    my $tw = eval { $JSON->decode($r->{body}) } // {};
    check($tw->{properties}{reported}{temp}, 22, "$t: REST reads temp");
    check($tw->{properties}{reported}{fw}, {v => '1.2'}, "$t: and fw");
    check($tw->{properties}{reported}{'$version'}, 3, "$t: version 3");

    twin_res(twin_req($c, 'PATCH', '/properties/reported', '{"a":', 'e1'),
             "$t: bad JSON", 400, 'e1', 400006);
    twin_res(twin_req($c, 'PATCH', '/properties/reported', '{"a.b":1}',
                      'e2'), "$t: bad name", 400, 'e2', 400004);
    twin_res(twin_req($c, 'PATCH', '/properties/reported',
                      '{"big":"' . ('x' x 4000) . '",'
                      . join(',', map { "\"k$_\":\"" . ('y' x 3000) . '"' }
                                  1 .. 12) . '}', 'e3'),
             "$t: reported over 32 KB", 400, 'e3', 400004);
    twin_res(twin_req($c, 'PATCH', '/properties/reported',
                      '{"k":"' . ('z' x (130 * 1024)) . '"}', 'e4'),
             "$t: request over 128 KB", 413, 'e4', 413001);
    twin_res(twin_req($c, 'PATCH', '/properties/desired', '{"a":1}', 'e5'),
             "$t: desired is not the device's", 400, 'e5', 400004);
    twin_res(twin_req($c, 'POST', undef, ' ', 'e6'),
             "$t: unknown operation", 400, 'e6', 400004);
    twin_res(twin_req($c, 'PUT', '/properties/reported', ' ', 'e7'),
             "$t: PUT of another resource", 400, 'e7', 400004);

    # still attached, and the reported properties unchanged
    $m = twin_res(twin_req($c, 'GET', undef, ' ', 'c3'), $t, 200, 'c3');
    check((eval { $JSON->decode($m->{body}) } // {})->{reported},
          {temp => 22, fw => {v => '1.2'}, '$version' => 3},
          "$t: reported after the errors");
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 3: desired notifications after PUT (no correlation-id, version long, the patch with $version), none after DELETE
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = twin_device('dev1');

    # before the PUT: the next message is the GET's answer
    rest(PATCH => '/twins/dev1', '{"properties":{"desired":{"a":1}}}');
    twin_res(twin_req($c, 'GET', undef, ' ', 'g1'), "$t: no notification",
             200, 'g1');

    twin_res(twin_req($c, 'PUT', $DESIRED, ' ', 'p1'), "$t: PUT", 204, 'p1');
    my $r = rest(PATCH => '/twins/dev1',
                 '{"properties":{"desired":{"b":{"c":2}}}}');
    check($r->{status}, 200, "$t: REST PATCH");
    $r = $c->cmd(op => 'receive', name => 'twin-in');
    my $m = $r->{message} // {};
    check($m->{correlation_id}, undef, "$t: no correlation-id");
    check($m->{annotations}{version}, 3, "$t: version 3");
    check($m->{types}{version}, 'int', "$t: version is an AMQP long");
    check($m->{data_section}, 1, "$t: a data section");
    check(eval { $JSON->decode($m->{body}) },
          {b => {c => 2}, '$version' => 3}, "$t: the patch");

    twin_res(twin_req($c, 'DELETE', $DESIRED, ' ', 'd1'), "$t: DELETE",
             204, 'd1');
    rest(PATCH => '/twins/dev1', '{"properties":{"desired":{"c":3}}}');
    $m = twin_res(twin_req($c, 'GET', undef, ' ', 'g2'),
                  "$t: none after DELETE", 200, 'g2');
    check((eval { $JSON->decode($m->{body}) } // {})->{desired}{'$version'},
          4, "$t: the GET sees version 4");
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 4: a method call reaches the device; its answer (int status, uuid or string correlation-id) is the result
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    put_token($c, 'dev1');
    pair($c, 'dev1', 'methods/devicebound', 'methods');

    my $call = call('dev1', 'reboot', '{"delay":5}');
    my $cid = method_req($c, $t, 'reboot', '{"delay":5}');
    my $r = method_res($c, $cid, 201, '{"ok":true}');
    check($r->{outcomes}, ['accepted'], "$t: answer accepted");
    $r = rest_end($call);
    check($r->{status}, 200, "$t: 200");
    check($r->{body}, '{"status":201,"payload":{"ok":true}}', "$t: result");

    # the id as text, as Node may send it; no payload: null
    $call = call('dev1', 'ping');
    $cid = method_req($c, "$t: no payload", 'ping', 'null');
    $r = method_res($c, $cid, 200, 'null', type => 'string');
    check($r->{outcomes}, ['accepted'], "$t: text id accepted");
    $r = rest_end($call);
    check($r->{body}, '{"status":200,"payload":null}', "$t: null result");

    # an answer to no request, an answer without status, then the right one
    $call = call('dev1', 'x', '[1]');
    $cid = method_req($c, "$t: x", 'x', '[1]');
    $r = method_res($c, '0b5ff5e1-0cc4-4a2a-8a8b-1f1f7b6c2c10', 200, '1');
    check($r->{outcomes}, ['rejected:amqp:not-found'], "$t: unknown id");
    $r = method_res($c, $cid, undef, '1');
    check($r->{outcomes}, ['rejected:com.microsoft:argument-error'],
          "$t: no status");
    $r = method_res($c, $cid, 500, '{"e":1}');
    check($r->{outcomes}, ['accepted'], "$t: then answered");
    check(rest_end($call)->{body}, '{"status":500,"payload":{"e":1}}',
          "$t: x result");

    # answered once only
    $r = method_res($c, $cid, 200, '2');
    check($r->{outcomes}, ['rejected:amqp:not-found'], "$t: answered once");
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 5: DeviceNotOnline without both method links, or after a detach; connectTimeoutInSeconds waits for the attach
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    offline('dev1', "$t: not connected");
    my $c = amqp_client();
    put_token($c, 'dev1');
    offline('dev1', "$t: connected, no method links");
    pair($c, 'dev1', 'methods/devicebound', 'methods', 'in');
    offline('dev1', "$t: the receiver only");
    pair($c, 'dev1', 'methods/devicebound', 'methods', 'out');

    my $call = call('dev1', 'm', '1');
    my $cid = method_req($c, $t, 'm', '1');
    method_res($c, $cid, 200, '2');
    check(rest_end($call)->{status}, 200, "$t: both links: answered");

    $c->cmd(op => 'detach', name => 'methods-out');
    offline('dev1', "$t: sender detached");

    $call = call('dev1', 'late', '3', connectTimeoutInSeconds => 10);
    pair($c, 'dev1', 'methods/devicebound', 'methods', 'out');
    $cid = method_req($c, "$t: late", 'late', '3');
    method_res($c, $cid, 202, '4');
    my $r = rest_end($call);
    check($r->{status}, 200, "$t: connect timeout: 200");
    check($r->{body}, '{"status":202,"payload":4}', "$t: late result");
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 6: module forms: twin GET, PATCH reported, desired notification and a method call of dev1/m1
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = twin_device('dev1/m1');
    pair($c, 'dev1/m1', 'methods/devicebound', 'methods');

    my $m = twin_res(twin_req($c, 'PATCH', '/properties/reported',
                              '{"mod":true}', 'c1'), $t, 204, 'c1');
    check($m->{annotations}{version}, 2, "$t: reported version 2");
    my $r = rest(GET => '/twins/dev1/modules/m1');
    check((eval { $JSON->decode($r->{body}) } // {})
              ->{properties}{reported}{mod}, JSON::PP::true,
          "$t: REST reads the module's reported");
    check((eval { $JSON->decode(rest(GET => '/twins/dev1')->{body}) } // {})
              ->{properties}{reported}{mod}, undef, "$t: not the device's");

    twin_res(twin_req($c, 'PUT', $DESIRED, ' ', 'p1'), "$t: PUT", 204, 'p1');
    rest(PATCH => '/twins/dev1/modules/m1',
         '{"properties":{"desired":{"x":1}}}');
    $m = $c->cmd(op => 'receive', name => 'twin-in')->{message} // {};
    check(eval { $JSON->decode($m->{body}) }, {x => 1, '$version' => 2},
          "$t: the module's desired patch");
    $m = twin_res(twin_req($c, 'GET', undef, ' ', 'g1'), $t, 200, 'g1');
    check((eval { $JSON->decode($m->{body}) } // {})->{reported}{mod},
          JSON::PP::true, "$t: GET");

    my $call = call('dev1/modules/m1', 'mm', '{"a":1}');
    my $cid = method_req($c, $t, 'mm', '{"a":1}');
    method_res($c, $cid, 200, '"done"');
    $r = rest_end($call);
    check($r->{status}, 200, "$t: module method 200");
    check($r->{body}, '{"status":200,"payload":"done"}', "$t: result");
    offline('dev1', "$t: the device itself has no method links");
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 7: another identity's twin and method links are refused
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('dev2'), put_module('dev1', 'm1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    put_token($c, 'dev1');
    for my $a ('/devices/dev2/twin', '/devices/dev2/methods/devicebound',
               '/devices/dev1/modules/m1/twin') {
        my $r = $c->cmd(op => 'receiver', name => "r$a", address => $a);
        check($r->{error}, 'amqp:unauthorized-access', "$t: $a refused");
    }
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 8: Redis down: GET and PATCH answered 503, PUT holds on the connection (204)
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    $::CLIENT = twin_device('dev1');
 }],
 ['redis_stop'],
 [perl => sub {
    my (undef, $t) = @_;
    my $c = $::CLIENT;
    twin_res(twin_req($c, 'GET', undef, ' ', 'g1'), "$t: GET", 503, 'g1',
             503001);
    twin_res(twin_req($c, 'PATCH', '/properties/reported', '{"a":1}', 'p1'),
             "$t: PATCH", 503, 'p1', 503001);
    twin_res(twin_req($c, 'PUT', $DESIRED, ' ', 's1'), "$t: PUT", 204, 's1');
    $c->close;
 }],
 ['redis_start']]
--- error_log eval
qr/redis/i
