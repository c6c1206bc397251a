# The AMQP service side (reference/amqp.md 3, 9.1, 9.2, 12; auth.md 3.3,
# 4): a put-token with a policy token for the hub's audience is the
# connection's service claim when the policy has ServiceConnect (401
# otherwise), renewed in place, its links detached on expiry, apart from
# the device identities of the same connection; /messages/devicebound
# queues cloud-to-device messages (properties.to names the device, the
# properties and iothub-ack as the REST send maps them) and settles each
# once Redis answered, rejected with amqp:not-found, resource-limit,
# message-size and not-allowed as the reference lists;
# /messages/serviceBound/feedback sends the feedback batches (JSON
# array) and settles them by the back end's outcome.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use JSON::PP ();

require_modules(qw(core http mqtt amqp));

our $V = 'api-version=2021-04-12';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; "
                   . "iothub_amqp test; }";
our $C2D = 'devices/dev1/messages/devicebound/#';

sub check {
    my ($r, $t, $key, $want) = @_;
    my $ok = ref $want ? Test::More::is_deeply($r->{$key}, $want, $t)
                       : Test::More::is($r->{$key}, $want, $t);
    Test::More::diag(Test::More::explain($r)) unless $ok;
    return $ok;
}

# put-token for the hub; the status
sub service_token {
    my ($c, %o) = @_;
    my $r = $c->cmd(op => 'cbs', audience => $o{audience} // 'localhost',
                    token => $o{token} // sas_token(policy => 'service'));
    return $r;
}

# a back end with its claim and a sender to /messages/devicebound
sub service {
    my %o = @_;
    my $c = amqp_client();
    my $r = service_token($c, %o);
    die "service put-token: " . Test::More::explain($r)
        unless ($r->{status} // 0) == 200;
    $r = $c->cmd(op => 'sender', name => 'c2d',
                 address => '/messages/devicebound');
    die "attach: " . Test::More::explain($r) unless $r->{ok};
    return $c;
}

sub to { "/devices/$_[0]/messages/devicebound" }

sub send_c2d {
    my ($dev, $body, @headers) = @_;
    return {method => 'POST', path => "/devices/$dev/messages/devicebound?$V",
            body => $body // '', headers => [@headers]};
}

# a device subscribed to C2D over MQTT: the steps
sub c2d_device {
    return ([connect => 'dev1'],
            [send => mqtt_subscribe(1, [$C2D, 1])],
            [expect => mqtt_suback(1, 1)]);
}

run_tests();

__DATA__

=== TEST 1: put-token for the hub: policies with ServiceConnect 200, others 401; bad, expired, malformed tokens
--- stream_config eval: $::AMQP_SERVER
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = service_token($c);
    check($r, "$t: service", 'status', 200);
    check($r, "$t: int", 'status_type', 'int32');
    Test::More::ok($r->{correlated}, "$t: correlated");
    check(service_token($c, token => sas_token()), "$t: iothubowner",
          'status', 200);
    check(service_token($c, token => sas_token(policy => 'device')),
          "$t: device policy", 'status', 401);
    $r = service_token($c, token => sas_token(policy => 'registryRead'));
    check($r, "$t: registryRead", 'status', 401);
    check($r, "$t: why", 'description', 'the policy lacks ServiceConnect');
    check(service_token($c, token => sas_token(policy => 'service',
                                               expiry => time - 10)),
          "$t: expired", 'status', 401);
    check(service_token($c, token => sas_token(policy => 'service',
                                               key => $DEVICE_KEY)),
          "$t: bad signature", 'status', 401);
    check(service_token($c, token => sas_token(policy => 'nobody',
                                               key => $DEVICE_KEY)),
          "$t: unknown policy", 'status', 401);
    check(service_token($c, token => sas_token(policy => 'service',
                                               host => 'otherhub')),
          "$t: token of another hub", 'status', 401);
    check(service_token($c, token => device_token('dev1')),
          "$t: a device token", 'status', 401);
    check(service_token($c, token => 'garbage'), "$t: malformed", 'status',
          400);
    check(service_token($c, audience => 'otherhub'), "$t: another hub",
          'status', 404);
    check(service_token($c, audience => 'localhost/messages/serviceBound'),
          "$t: audience under the hub", 'status', 200);
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 2: service links need the claim; the claim's scope; device and service identities stay apart
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'sender', name => 's0',
                    address => '/messages/devicebound');
    check($r, "$t: no claim", 'error', 'amqp:unauthorized-access');
    # a device's token authorizes no service link
    $r = $c->cmd(op => 'cbs', audience => 'localhost%2Fdevices%2Fdev1',
                 token => device_token('dev1'));
    check($r, "$t: device put-token", 'status', 200);
    $r = $c->cmd(op => 'receiver', name => 'f0',
                 address => '/messages/serviceBound/feedback');
    check($r, "$t: device token, feedback", 'error',
          'amqp:unauthorized-access');
    # a claim for the feedback node only
    $r = service_token($c, audience => 'localhost/messages/serviceBound');
    check($r, "$t: scoped claim", 'status', 200);
    $r = $c->cmd(op => 'sender', name => 's1',
                 address => '/messages/devicebound');
    check($r, "$t: not in scope", 'error', 'amqp:unauthorized-access');
    $r = $c->cmd(op => 'receiver', name => 'f1',
                 address => '/messages/serviceBound/feedback');
    check($r, "$t: in scope", 'ok', 1);
    # wrong directions
    $r = $c->cmd(op => 'receiver', name => 'r2',
                 address => '/messages/devicebound');
    check($r, "$t: devicebound is sent to", 'error', 'amqp:not-allowed');
    # the whole hub; the device's links still need the device's token
    check(service_token($c), "$t: hub claim", 'status', 200);
    $r = $c->cmd(op => 'sender', name => 's3',
                 address => '/messages/devicebound');
    check($r, "$t: devicebound", 'ok', 1);
    $r = $c->cmd(op => 'sender', name => 'd3',
                 address => '/devices/dev2/messages/events');
    check($r, "$t: another device's link", 'error',
          'amqp:unauthorized-access');
    $r = $c->cmd(op => 'sender', name => 'd1',
                 address => '/devices/dev1/messages/events');
    check($r, "$t: the device's own link", 'ok', 1);
    $c->close;
    # a service claim alone authorizes no device link
    $c = amqp_client();
    service_token($c);
    $r = $c->cmd(op => 'sender', name => 'd1',
                 address => '/devices/dev1/messages/events');
    check($r, "$t: service only, device link", 'error',
          'amqp:unauthorized-access');
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 3: a send is queued with its properties and delivered to an MQTT device
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = service();
    my $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        {body => '{"cmd":"on"}', to => main::to('dev1'), id => 'm-1',
         correlation_id => 'c/1', user_id => 'u1',
         content_type => 'application/json', content_encoding => 'utf-8',
         expiry => 4102444800000,
         properties => {'iothub-ack' => 'full', alert => 'high', n => 7}}]);
    check($r, "$t: accepted", 'outcomes', ['accepted']);
    $c->close;
 }],
 [redis => 'LRANGE iothub:test:{dev1}:c2d 0 -1', '[1]'],
 [redis => ['HGETALL', 'iothub:test:{dev1}:c2d:1'],
  qr/(?=.*\bexpiry, 4102444800000\b)(?=.*\back, full\b)(?=.*p:message-id, m-1\b)(?=.*p:correlation-id, c\/1\b)(?=.*p:user-id, u1\b)(?=.*p:content-type, application\/json\b)(?=.*p:content-encoding, utf-8\b)(?=.*u:alert, high\b)(?=.*u:n, 7\b)(?=.*body, \{"cmd":"on"\})/s],
 c2d_device(),
 [expect => sub {
    my $p = shift;
    return $p =~ m{devices/dev1/messages/devicebound/}
        && $p =~ /iothub-ack=full/ && $p =~ /%24\.mid=m-1/
        && $p =~ /%24\.cid=c%2F1/ && $p =~ /%24\.uid=u1/
        && $p =~ /%24\.ct=application%2Fjson/ && $p =~ /%24\.ce=utf-8/
        && $p =~ /alert=high/ && $p =~ /\bn=7/
        && $p =~ /\{"cmd":"on"\}$/;
 }]]
--- no_error_log
[error]

=== TEST 4: message ids of every AMQP type become the text feedback names; url-encoded device ids
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('a+b:c')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = service();
    my $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        {to => main::to('dev1'), id => '0B5FF5E1-0CC4-4A2A-8A8B-1F1F7B6C2C10',
         id_type => 'uuid'},
        {to => main::to('dev1'), id => '18446744073709551615',
         id_type => 'ulong'},
        {to => main::to('dev1'), id => '00112233445566778899aabbccddeeff',
         id_type => 'binary'},
        {to => main::to('dev1'), id => '0a0b', id_type => 'binary'},
        {to => main::to('a%2Bb%3Ac'), body => 'encoded'}]);
    check($r, "$t: accepted", 'outcomes', [('accepted') x 5]);
    $c->close;
 }],
 [redis => ['HGET', 'iothub:test:{dev1}:c2d:1', 'p:message-id'],
  '0b5ff5e1-0cc4-4a2a-8a8b-1f1f7b6c2c10'],
 [redis => ['HGET', 'iothub:test:{dev1}:c2d:2', 'p:message-id'],
  '18446744073709551615'],
 [redis => ['HGET', 'iothub:test:{dev1}:c2d:3', 'p:message-id'],
  '00112233-4455-6677-8899-aabbccddeeff'],
 [redis => ['HGET', 'iothub:test:{dev1}:c2d:4', 'p:message-id'], '0a0b'],
 [redis => ['HGET', 'iothub:test:{a+b:c}:c2d:1', 'body'], 'encoded']]
--- no_error_log
[error]

=== TEST 5: rejections: unknown device, queue full, bad to, oversize, bad iothub-ack; more sends than credit
--- main_config eval
iothub_block(hub_extra => 'c2d_queue_depth 2;')
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_device('dev2')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = service();
    my $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        {to => main::to('nobody'), body => 'x'},
        {to => main::to('dev1'), body => 'one'},
        {to => main::to('dev1'), body => 'two'},
        {to => main::to('dev1'), body => 'three'},
        {body => 'no to'},
        {to => '/devices/dev1/messages/events', body => 'events'},
        {to => '/devices/dev1/modules/m1/messages/devicebound', body => 'm'},
        {to => '/devices/a%00b/messages/devicebound', body => 'nul'},
        {to => main::to('dev1'), body_size => 65537},
        {to => main::to('dev1'), properties => {'iothub-ack' => 'yes'}}]);
    check($r, "$t: outcomes", 'outcomes', [
        'rejected:amqp:not-found', 'accepted', 'accepted',
        'rejected:amqp:resource-limit-exceeded',
        ('rejected:amqp:not-allowed') x 4,
        'rejected:amqp:link:message-size-exceeded',
        'rejected:com.microsoft:argument-error']);
    # 40 sends on the link's 16 credits: the credit comes back as Redis
    # answers, every one is settled
    $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        map { {to => main::to('nobody'), body => "n$_"} } 1 .. 40]);
    check($r, "$t: more than the credit", 'outcomes',
          [('rejected:amqp:not-found') x 40]);
    $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        {to => main::to('dev2'), body_size => 65536}]);
    check($r, "$t: 64 KB fit", 'outcomes', ['accepted']);
    $c->close;
 }],
 [redis => 'LLEN iothub:test:{dev1}:c2d', '2'],
 [redis => 'LLEN iothub:test:{dev2}:c2d', '1']]
--- no_error_log
[error]

=== TEST 6: feedback: a completed message's record comes as a JSON array; released it comes again, accepted it is removed
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = service();
    my $r = $c->cmd(op => 'send', name => 'c2d', messages => [
        {to => main::to('dev1'), id => 'fb-1', body => 'hello',
         properties => {'iothub-ack' => 'full'}}]);
    check($r, "$t: accepted", 'outcomes', ['accepted']);
    $r = $c->cmd(op => 'receiver', name => 'fb',
                 address => '/messages/serviceBound/feedback', credit => 5);
    check($r, "$t: feedback attached", 'ok', 1);
    $::SERVICE = $c;
 }],
 c2d_device(),
 [expect => sub { $_[0] =~ /%24\.mid=fb-1/ && $_[0] =~ /hello$/ }],
 [send => mqtt_puback(1)],
 [redis => 'XLEN iothub:test:feedback', '1', 3],
 [perl => sub {
    my (undef, $t) = @_;
    my $c = $::SERVICE;
    my $r = $c->cmd(op => 'receive', name => 'fb');
    my $m = $r->{message} or Test::More::diag(Test::More::explain($r));
    check($m, "$t: content-type", 'content_type',
          'application/vnd.microsoft.iothub.feedback.json');
    check($m, "$t: user-id", 'user_id', 'test');
    check($m, "$t: data section", 'data_section', 1);
    Test::More::like($m->{annotations}{'iothub-enqueuedtime'} // '',
                     qr/^\d+/, "$t: enqueued time");
    my $lock = $m->{id};
    Test::More::like($lock // '', qr/^[0-9a-f]{32}$/, "$t: message-id");
    my $records = eval { JSON::PP::decode_json($m->{body}) };
    Test::More::is(ref $records, 'ARRAY', "$t: a JSON array")
        or Test::More::diag($m->{body});
    check($records->[0], "$t: original id", 'originalMessageId', 'fb-1');
    check($records->[0], "$t: status", 'statusCode', 'Success');
    check($records->[0], "$t: device", 'deviceId', 'dev1');
    $c->cmd(op => 'settle', name => 'fb', outcome => 'release');
    $r = $c->cmd(op => 'receive', name => 'fb');
    $m = $r->{message} or Test::More::diag(Test::More::explain($r));
    Test::More::like($m->{body} // '', qr/"originalMessageId":"fb-1"/,
                     "$t: released: again");
    Test::More::isnt($m->{id}, $lock, "$t: a new batch");
    $c->cmd(op => 'settle', name => 'fb', outcome => 'accept');
 }],
 [redis => 'XLEN iothub:test:feedback', '0', 3],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::SERVICE->cmd(op => 'receive', name => 'fb', timeout => 2);
    Test::More::like($r->{exception} // '', qr/Timeout/,
                     "$t: nothing more") or Test::More::diag(Test::More::explain($r));
    $::SERVICE->close;
 }]]
--- no_error_log
[error]

=== TEST 7: feedback: rejected completes (dead-letters) the batch; a detach with a batch out abandons it
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'),
 send_c2d('dev1', 'a', ['iothub-messageid', 'r-1'], ['iothub-ack', 'full']),
 send_c2d('dev1', 'b', ['iothub-messageid', 'r-2'], ['iothub-ack', 'full'])]
--- error_code eval
[200, 204, 204]
--- mqtt eval
[c2d_device(),
 [expect => sub { $_[0] =~ /%24\.mid=r-1/ }],
 [send => mqtt_puback(1)],
 [redis => 'XLEN iothub:test:feedback', '1', 3],
 [perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    service_token($c);
    my $r = $c->cmd(op => 'receiver', name => 'fb',
                    address => '/messages/serviceBound/feedback');
    $r = $c->cmd(op => 'receive', name => 'fb');
    Test::More::like($r->{message}{body} // '', qr/"r-1"/, "$t: first")
        or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'fb', outcome => 'reject');
    $::SERVICE = $c;
 }],
 [redis => 'XLEN iothub:test:feedback', '0', 3],
 [expect => sub { $_[0] =~ /%24\.mid=r-2/ }],
 [send => mqtt_puback(2)],
 [perl => sub {
    my (undef, $t) = @_;
    my $c = $::SERVICE;
    my $r = $c->cmd(op => 'receive', name => 'fb');
    Test::More::like($r->{message}{body} // '', qr/"r-2"/, "$t: second")
        or Test::More::diag(Test::More::explain($r));
    $c->close;
    # the detach abandoned it: another back end gets it at once
    $c = amqp_client();
    service_token($c);
    $r = $c->cmd(op => 'receiver', name => 'fb',
                 address => '/messages/serviceBound/feedback');
    $r = $c->cmd(op => 'receive', name => 'fb');
    Test::More::like($r->{message}{body} // '', qr/"r-2"/, "$t: again")
        or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'fb', outcome => 'accept');
    $c->close;
 }],
 [redis => 'XLEN iothub:test:feedback', '0', 3]]
--- no_error_log
[error]

=== TEST 8: renewal keeps the service links; expiry detaches them with amqp:unauthorized-access
--- stream_config eval: $::AMQP_SERVER
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = service(token => sas_token(policy => 'service', ttl => 2));
    my $r = $c->cmd(op => 'receiver', name => 'fb',
                    address => '/messages/serviceBound/feedback');
    check($r, "$t: feedback", 'ok', 1);
    # a refused renewal changes nothing
    check(service_token($c, token => sas_token(policy => 'device')),
          "$t: renew without ServiceConnect", 'status', 401);
    check(service_token($c, token => sas_token(policy => 'service',
                                               ttl => 4)),
          "$t: renewed", 'status', 200);
    $r = $c->cmd(op => 'detached', name => 'c2d', timeout => 1.5);
    Test::More::like($r->{exception} // '', qr/Timeout/,
                     "$t: still attached after 2 s")
        or Test::More::diag(Test::More::explain($r));
    $r = $c->cmd(op => 'detached', name => 'c2d', timeout => 10);
    check($r, "$t: c2d detached on expiry", 'error',
          'amqp:unauthorized-access');
    $r = $c->cmd(op => 'detached', name => 'fb', timeout => 5);
    check($r, "$t: feedback detached", 'error', 'amqp:unauthorized-access');
    $c->close;
 }]]
--- no_error_log
[error]
