# AMQP telemetry and cloud-to-device messages (reference/amqp.md 5, 6):
# a transfer on /devices/{id}/messages/events is stored with its
# properties, application properties and annotations and accepted only
# once stored; more transfers than the link's credit are all stored (the
# credit comes back as Redis stores them); two devices on one connection;
# Redis down rejects; C2D on /devices/{id}/messages/devicebound with
# accepted = complete, released/modified = abandon, rejected = reject;
# MQTT and AMQP take over from each other; malformed bytes close the
# connection with an error.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;

require_modules(qw(core http mqtt amqp));

our $V = 'api-version=2021-04-12';
our $AUD = 'localhost%2Fdevices%2F';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; "
                   . "iothub_amqp test; iothub_amqp_telemetry_credit 3; }";

sub check {
    my ($r, $t, $key, $want) = @_;
    my $ok = ref $want ? Test::More::is_deeply($r->{$key}, $want, $t)
                       : Test::More::is($r->{$key}, $want, $t);
    Test::More::diag(Test::More::explain($r)) unless $ok;
}

# a device with its token put and a link to its address
sub device {
    my ($c, $dev, $kind, %o) = @_;
    my $r = $c->cmd(op => 'cbs', audience => "$AUD$dev",
                    token => device_token($dev));
    die "put-token $dev: $r->{status}\n" unless ($r->{status} // 0) == 200;
    my $addr = $kind eq 'sender' ? "/devices/$dev/messages/events"
                                 : "/devices/$dev/messages/devicebound";
    $r = $c->cmd(op => $kind, name => $dev, address => $addr, %o);
    die "attach $dev: " . Test::More::explain($r) unless $r->{ok};
}

sub send_c2d {
    my ($dev, $body, @headers) = @_;
    return {method => 'POST', path => "/devices/$dev/messages/devicebound?$V",
            body => $body // '', headers => [@headers]};
}

run_tests();

__DATA__

=== TEST 1: telemetry stored with its properties, then accepted
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    device($c, 'dev1', 'sender');
    my $r = $c->cmd(op => 'send', name => 'dev1', messages => [
        {body => '{"t":21}', id => 'm1', correlation_id => 'c1',
         content_type => 'application/json', content_encoding => 'utf-8',
         user_id => 'u1', expiry => 1900000000000,
         to => '/devices/dev1/messages/events',
         properties => {alert => 'high', 'sp ace' => 'v/a l?u#e', n => 7,
                        'iothub-connection-device-id' => 'forged',
                        'iothub-outputname' => 'out1'},
         annotations => {'iothub-interface-id' => 'dtmi:x;1',
                         'dt-subject' => 'thermo', 'x-other' => 'no'}},
        {body => '', id => '0b5ff5e1-0cc4-4a2a-8a8b-1f1f7b6c2c10',
         id_type => 'uuid'}]);
    check($r, "$t: accepted", 'outcomes', ['accepted', 'accepted']);
    $c->close;
 }],
 [d2c => [{body => '{"t":21}', 'p:message-id' => 'm1',
           'p:correlation-id' => 'c1', 'p:content-type' => 'application/json',
           'p:content-encoding' => 'utf-8', 'p:user-id' => 'u1',
           'p:absolute-expiry-time' => '1900000000000',
           'p:to' => '/devices/dev1/messages/events',
           'u:alert' => 'high', 'u:sp ace' => 'v/a l?u#e', 'u:n' => '7',
           'u:iothub-outputname' => 'out1',
           'u:iothub-interface-id' => 'dtmi:x;1', 'a:dt-subject' => 'thermo',
           'u:x-other' => undef, 'a:iothub-connection-device-id' => 'dev1',
           'u:iothub-connection-device-id' => undef},
          {body => '',
           'p:message-id' => '0b5ff5e1-0cc4-4a2a-8a8b-1f1f7b6c2c10'}]]]
--- no_error_log
[error]

=== TEST 2: more transfers than credit (3) are all stored, in order; two devices on one connection
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    device($c, 'dev1', 'sender');
    device($c, 'dev2', 'sender');
    my $r = $c->cmd(op => 'send', name => 'dev1',
                    messages => [map { {body => "m$_"} } 1 .. 20]);
    check($r, "$t: dev1 all accepted", 'outcomes', [('accepted') x 20]);
    $r = $c->cmd(op => 'send', name => 'dev2', messages => [{body => 'two'}]);
    check($r, "$t: dev2 accepted", 'outcomes', ['accepted']);
    $c->close;
 }],
 [d2c => [(map { {body => "m$_", 'a:iothub-connection-device-id' => 'dev1'} }
           1 .. 20),
          {body => 'two', 'a:iothub-connection-device-id' => 'dev2'}]]]
--- no_error_log
[error]

=== TEST 3: Redis down: telemetry rejected, not accepted
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    device($c, 'dev1', 'sender');
    $::CLIENT = $c;
 }],
 ['redis_stop'],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::CLIENT->cmd(op => 'send', name => 'dev1',
                           messages => [{body => 'lost'}]);
    check($r, "$t: rejected", 'outcomes', ['rejected:amqp:internal-error']);
    $::CLIENT->close;
 }],
 ['redis_start']]
--- error_log eval
qr/redis/i

=== TEST 4: C2D: accepted completes, released abandons (delivered again), rejected dead-letters
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'),
 send_c2d('dev1', 'one', ['iothub-messageid', 'id1'], ['iothub-ack', 'full'],
          ['iothub-app-color', 'blue']),
 send_c2d('dev1', 'two', ['iothub-messageid', 'id2'], ['iothub-ack', 'full'])]
--- error_code eval
[200, 204, 204]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    device($c, 'dev1', 'receiver', credit => 10);
    my $r = $c->cmd(op => 'receive', name => 'dev1');
    my $m = $r->{message} or Test::More::diag(Test::More::explain($r));
    Test::More::is($m->{body}, 'one', "$t: first body");
    Test::More::ok($m->{data_section}, "$t: a data section");
    Test::More::is($m->{id}, 'id1', "$t: message-id");
    Test::More::is($m->{to}, '/devices/dev1/messages/deviceBound', "$t: to");
    Test::More::is($m->{properties}{'iothub-ack'}, 'full', "$t: ack");
    Test::More::is($m->{properties}{color}, 'blue', "$t: app property");
    $c->cmd(op => 'settle', name => 'dev1', outcome => 'release');
    $r = $c->cmd(op => 'receive', name => 'dev1');
    Test::More::is($r->{message}{body}, 'one', "$t: released: again")
        or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'dev1', outcome => 'accept');
    $r = $c->cmd(op => 'receive', name => 'dev1');
    Test::More::is($r->{message}{body}, 'two', "$t: then the second")
        or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'dev1', outcome => 'reject');
    $r = $c->cmd(op => 'receive', name => 'dev1', timeout => 1);
    Test::More::like($r->{exception} // '', qr/Timeout/, "$t: queue empty");
    $c->close;
 }],
 [redis => ['XRANGE', 'iothub:test:feedback', '-', '+'],
  qr/originalMessageId, id1, .*statusCode, Success, .*originalMessageId, id2, .*statusCode, Rejected,/s, 3]]
--- no_error_log
[error]

=== TEST 5: takeover: MQTT connect kicks the AMQP identity (detach-forced), AMQP put-token kicks MQTT
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    $::CLIENT = amqp_client();
    device($::CLIENT, 'dev1', 'sender');
 }],
 [connect => 'dev1'],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::CLIENT->cmd(op => 'detached', name => 'dev1');
    check($r, "$t: AMQP link detached", 'error', 'amqp:link:detach-forced');
    my $c = amqp_client();
    device($c, 'dev1', 'sender');
    $::CLIENT->close;
    $::CLIENT = $c;
 }],
 [closed => 5],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::CLIENT->cmd(op => 'send', name => 'dev1',
                           messages => [{body => 'after'}]);
    check($r, "$t: AMQP serves", 'outcomes', ['accepted']);
    $::CLIENT->close;
 }]]
--- no_error_log
[error]

=== TEST 6: malformed frames close the connection with an AMQP error
--- stream_config eval: $::AMQP_SERVER
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    # the AMQP header, then a frame of a size under the minimum (8)
    my $r = $c->cmd(op => 'raw', port => $AMQP_PORT,
                    hex => '414d515000010000' . '00000004' . '02000000');
    Test::More::ok($r->{closed}, "$t: closed");
    Test::More::like($r->{hex}, qr/^414d515000010000/, "$t: AMQP header");
    Test::More::like(pack('H*', $r->{hex}), qr/amqp:connection:framing-error/,
                     "$t: close with framing-error")
        or Test::More::diag($r->{hex});
    # not AMQP at all
    $r = $c->cmd(op => 'raw', port => $AMQP_PORT, hex => unpack('H*',
                 "GET / HTTP/1.1\r\n\r\n"));
    Test::More::ok($r->{closed}, "$t: not AMQP: closed");
    # SASL MSSBCBS (C SDK): sasl-init with an empty response succeeds
    $r = $c->cmd(op => 'raw', port => $AMQP_PORT,
                 hex => '414d515003010000' . '0000001902010000'
                        . '005341c00c03a3074d535342434253' . '4040',
                 timeout => 1);
    Test::More::like($r->{hex}, qr/005344c003015000/,
                     "$t: MSSBCBS sasl-outcome ok") or Test::More::diag($r->{hex});
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 7: module inputs: a module's receiver on its telemetry address (the Node SDK's input link) attaches and is recorded; a device's is refused
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_module('dev1', 'm1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $features = sub {
        my $want = shift;
        my $got;
        for (1 .. 50) {
            $got = redis_cmd('HGET', 'iothub:test:{dev1}:presence:m1',
                             'features');
            last if defined $got && $got eq $want;
            select(undef, undef, undef, 0.1);
        }
        is($got, $want, "$t: presence features $want");
    };
    my $c = amqp_client();
    my $r = $c->cmd(op => 'cbs', audience => "${AUD}dev1%2Fmodules%2Fm1",
                    token => device_token(device => 'dev1', module => 'm1'));
    is($r->{status}, 200, "$t: module token") or diag(explain($r));
    $r = $c->cmd(op => 'receiver', name => 'in',
                 address => '/devices/dev1/modules/m1/messages/events');
    ok($r->{ok}, "$t: input link attached") or diag(explain($r));
    $features->(16);
    $r = $c->cmd(op => 'receive', name => 'in', timeout => 1);
    like($r->{exception} // '', qr/Timeout/, "$t: nothing is routed to it")
        or diag(explain($r));
    $c->cmd(op => 'detach', name => 'in');
    $features->(0);
    device($c, 'dev1', 'sender');
    $r = $c->cmd(op => 'receiver', name => 'dev-in',
                 address => '/devices/dev1/messages/events');
    is($r->{error}, 'amqp:not-allowed', "$t: a device's refused")
        or diag(explain($r));
    $c->close;
}]]
--- no_error_log
[error]
