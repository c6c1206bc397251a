# AMQP CBS (reference/amqp.md 3, auth.md 6.2): put-token on the $cbs node
# authenticates an identity with a SAS token (answer: status-code int 200,
# correlation-id the request's message-id of the same type); bad
# signatures, expired tokens, unknown devices and malformed requests get
# their status; SASL is optional (ANONYMOUS, MSSBCBS); a link to a
# device's address before its token was put is refused with
# amqp:unauthorized-access; several identities on one connection; a new
# token for an identity renews it; an expired token detaches its links.
# The devices of a connection count in GET /statistics/service while it
# lasts.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;

require_modules(qw(core http amqp));

our $AUD = 'localhost%2Fdevices%2F';

# put-token for $dev with $token (default: a good one); checks the status
sub put_token {
    my ($c, $t, $dev, $want, %o) = @_;
    my $r = $c->cmd(op => 'cbs', audience => $o{audience} // "$AUD$dev",
                    token => $o{token} // device_token($dev), %o);
    is($r->{status}, $want, "$t: put-token $dev status $want")
        or diag(Test::More::explain($r));
    return $r;
}

run_tests();

__DATA__

=== TEST 1: put-token: OK (int 200, correlated, string and ulong ids), bad signature, unknown device
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = put_token($c, $t, 'dev1', 200);
    is($r->{status_type}, 'int32', "$t: status-code is an AMQP int");
    ok($r->{correlated}, "$t: correlation-id is the message-id");
    is($r->{description}, 'OK', "$t: description");
    $r = put_token($c, $t, 'dev2', 200, id => 'ulong');
    ok($r->{correlated}, "$t: ulong correlation-id")
        or diag(Test::More::explain($r));
    put_token($c, $t, 'dev2', 401,
              token => device_token(device => 'dev2',
                                    key => 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    put_token($c, $t, 'nobody', 401);
    put_token($c, $t, 'dev1', 400, token => 'garbage');
    put_token($c, $t, 'dev1', 400, type => 'jwt');
    # the hub's audience takes a policy token (t/520), another hub's none
    put_token($c, $t, 'x', 401, audience => 'localhost');
    put_token($c, $t, 'x', 404, audience => 'otherhub');
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 2: expired token refused; SASL ANONYMOUS
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    for my $mech (qw(ANONYMOUS)) {
        my $c = amqp_client(sasl => $mech);
        put_token($c, "$t $mech", 'dev1', 401,
                  token => device_token(device => 'dev1',
                                        expiry => time - 10));
        put_token($c, "$t $mech", 'dev1', 200);
        $c->close;
    }
}]]
--- no_error_log
[error]

=== TEST 3: a link before its token is refused; after it, accepted; another device's link refused
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'sender', name => 'a',
                    address => '/devices/dev1/messages/events');
    is($r->{error}, 'amqp:unauthorized-access', "$t: refused before")
        or diag(Test::More::explain($r));
    put_token($c, $t, 'dev1', 200);
    $r = $c->cmd(op => 'sender', name => 'b',
                 address => '/devices/dev1/messages/events');
    ok($r->{ok}, "$t: accepted after") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'c',
                 address => '/devices/dev2/messages/events');
    is($r->{error}, 'amqp:unauthorized-access', "$t: dev2 refused")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'd', address => '/nowhere');
    is($r->{error}, 'amqp:not-found', "$t: unknown address")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'e', address => '/devices/dev2/twin');
    is($r->{error}, 'amqp:unauthorized-access', "$t: dev2's twin refused")
        or diag(Test::More::explain($r));
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 4: renewal keeps the links; expiry detaches them with amqp:unauthorized-access
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    put_token($c, $t, 'dev1', 200,
              token => device_token(device => 'dev1', ttl => 2));
    my $r = $c->cmd(op => 'sender', name => 'a',
                    address => '/devices/dev1/messages/events');
    ok($r->{ok}, "$t: attached") or diag(Test::More::explain($r));
    # a renewal with a bad token is refused and changes nothing
    put_token($c, "$t renew bad", 'dev1', 401,
              token => device_token(device => 'dev1',
                                    key => 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    # the renewal moves the expiry: the link outlives the first token
    put_token($c, "$t renew", 'dev1', 200,
              token => device_token(device => 'dev1', ttl => 4));
    $r = $c->cmd(op => 'detached', name => 'a', timeout => 1.5);
    like($r->{exception} // '', qr/Timeout/, "$t: still attached after 2 s")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'detached', name => 'a', timeout => 10);
    is($r->{error}, 'amqp:unauthorized-access', "$t: detached on expiry")
        or diag(Test::More::explain($r));
    $c->close;
}]]
--- no_error_log
[error]

=== TEST 5: configuration errors name the directive
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; iothub_amqp_max_frame_size 100; }"
--- must_die
--- error_log
"iothub_amqp_max_frame_size" must be from 512 to 16m

=== TEST 6: telemetry credit 0 refused
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; iothub_amqp_telemetry_credit 0; }"
--- must_die
--- error_log
"iothub_amqp_telemetry_credit" must be from 1 to 10000

=== TEST 7: idle timeout out of range
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; iothub_amqp_idle_timeout 10ms; }"
--- must_die
--- error_log
"iothub_amqp_idle_timeout" must be from 1s to 1h

=== TEST 8: an unknown hub
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp nohub; }"
--- must_die
--- error_log eval
qr/nohub/



=== TEST 9: GET /statistics/service counts AMQP devices, two on one connection; they leave the count with the connection
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }"
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    $main::c = amqp_client();
    for my $dev (qw(dev1 dev2)) {
        put_token($main::c, $t, $dev, 200);
        my $r = $main::c->cmd(op => 'sender', name => $dev,
                              address => "/devices/$dev/messages/events");
        ok($r->{ok}, "$t: $dev attached") or diag(Test::More::explain($r));
    }
 }],
 [request => 'GET /statistics/service?api-version=2021-04-12', 200,
  '{"connectedDeviceCount":2}', 2],
 [perl => sub { $main::c->close }],
 [request => 'GET /statistics/service?api-version=2021-04-12', 200,
  '{"connectedDeviceCount":0}', 3]]
--- no_error_log
[error]
