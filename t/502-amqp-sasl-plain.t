# AMQP SASL PLAIN (reference/amqp.md 1.1, auth.md 6.2): the user name
# "<deviceId>@sas.<hub>" (or "<d>/modules/<m>@sas.<hub>") with the
# identity's SAS token as the password authenticates that identity as a
# CBS put-token would (the same session layer decides); the user name
# "<policy>@sas.root.<hub>" with a policy token is a back end's claim on
# the hub.  <hub> is the hub's name or its host name's first label.  Bad
# credentials get the SASL outcome "auth" (code 1) and the connection
# closes.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use Test::IotHub::SAS qw(sas_token);

require_modules(qw(core http amqp));

our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; "
                   . "iothub_amqp test; }";
our $BAD_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

sub plain {
    my ($user, $password) = @_;
    return amqp_try(sasl => 'PLAIN', user => $user, password => $password);
}

# a refused PLAIN login: the connect fails with unauthorized-access
sub refused {
    my ($t, $user, $password) = @_;
    my ($c, $r) = plain($user, $password);
    ok(!$c, "$t: refused") or diag(Test::More::explain($r));
    like($r->{text} // '', qr/unauthorized-access|Authentication failed/,
         "$t: SASL authentication failure")
        or diag(Test::More::explain($r));
    $c->close if $c;
}

run_tests();

__DATA__

=== TEST 1: a device's token as the password: its links, telemetry stored; another identity's links refused
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my ($c, $r) = plain('dev1@sas.test', device_token('dev1'));
    ok($c, "$t: connected") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'a',
                 address => '/devices/dev1/messages/events');
    ok($r->{ok}, "$t: telemetry link") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'send', name => 'a', messages => [{body => 'plain'}]);
    is_deeply($r->{outcomes}, ['accepted'], "$t: accepted")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'b',
                 address => '/devices/dev2/messages/events');
    is($r->{error}, 'amqp:unauthorized-access', "$t: dev2 refused")
        or diag(Test::More::explain($r));
    $c->close;
 }],
 [d2c => [{body => 'plain', 'a:iothub-connection-device-id' => 'dev1'}]]]
--- no_error_log
[error]

=== TEST 2: a module's token; the hub's host name as <hub>; CBS renewal on a PLAIN identity
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my ($c, $r) = plain('dev1/modules/m1@sas.localhost',
                        device_token(device => 'dev1', module => 'm1'));
    ok($c, "$t: connected") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'a',
                 address => '/devices/dev1/modules/m1/messages/events');
    ok($r->{ok}, "$t: module telemetry link")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'cbs',
                 audience => 'localhost%2Fdevices%2Fdev1%2Fmodules%2Fm1',
                 token => device_token(device => 'dev1', module => 'm1'));
    is($r->{status}, 200, "$t: renewed by put-token")
        or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'send', name => 'a', messages => [{body => 'mod'}]);
    is_deeply($r->{outcomes}, ['accepted'], "$t: accepted")
        or diag(Test::More::explain($r));
    $c->close;
 }],
 [d2c => [{body => 'mod', 'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-module-id' => 'm1'}]]]
--- no_error_log
[error]

=== TEST 3: bad credentials: the SASL outcome is an authentication failure
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('dev2'), put_device('off', status => 'disabled')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    refused("$t bad signature", 'dev1@sas.test',
            device_token(device => 'dev1', key => $BAD_KEY));
    refused("$t expired", 'dev1@sas.test',
            device_token(device => 'dev1', expiry => time - 10));
    refused("$t unknown device", 'nobody@sas.test', device_token('nobody'));
    refused("$t disabled device", 'off@sas.test', device_token('off'));
    refused("$t another device's token", 'dev1@sas.test',
            device_token('dev2'));
    refused("$t another hub", 'dev1@sas.otherhub', device_token('dev1'));
    refused("$t not a SAS token", 'dev1@sas.test', 'garbage');
    refused("$t no \@sas.", 'dev1', device_token('dev1'));
    # after all that, a good login still works
    my ($c, $r) = plain('dev1@sas.test', device_token('dev1'));
    ok($c, "$t: good login") or diag(Test::More::explain($r));
    $c->close if $c;
}]]
--- error_log
SASL PLAIN user "dev1@sas.otherhub" refused
bad SAS token signature
--- no_error_log
[error]

=== TEST 4: a policy token as <policy>@sas.root.<hub>: the service links; wrong rights and names refused
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my ($c, $r) = plain('service@sas.root.test',
                        sas_token(policy => 'service'));
    ok($c, "$t: connected") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'sender', name => 'c2d',
                 address => '/messages/devicebound');
    ok($r->{ok}, "$t: C2D send link") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'send', name => 'c2d',
                 messages => [{body => 'hello', id => 'x1',
                               to => '/devices/dev1/messages/devicebound'}]);
    is_deeply($r->{outcomes}, ['accepted'], "$t: C2D accepted")
        or diag(Test::More::explain($r));
    $c->close;
    # the device, by PLAIN too, receives it
    ($c, $r) = plain('dev1@sas.test', device_token('dev1'));
    ok($c, "$t: device connected") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'receiver', name => 'in',
                 address => '/devices/dev1/messages/devicebound');
    ok($r->{ok}, "$t: C2D link") or diag(Test::More::explain($r));
    $r = $c->cmd(op => 'receive', name => 'in');
    is($r->{message}{body}, 'hello', "$t: C2D received")
        or diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'in', outcome => 'accept');
    $c->close;
    refused("$t no service_connect", 'registryRead@sas.root.test',
            sas_token(policy => 'registryRead'));
    refused("$t policy other than the token's", 'iothubowner@sas.root.test',
            sas_token(policy => 'service'));
    refused("$t bad key", 'service@sas.root.test',
            sas_token(policy => 'service', key => $BAD_KEY));
    refused("$t a device token", 'service@sas.root.test',
            device_token('dev1'));
}]]
--- no_error_log
[error]
