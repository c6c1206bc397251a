# The Event Hubs-compatible endpoint on the AMQP server (reference/amqp.md
# 10): CBS put-token for sb://<host>/<entity>/... audiences with policy
# tokens signed with the key's text; $management READ of the entity and of
# a partition; receivers on <entity>/ConsumerGroups/<cg>/Partitions/<n>
# with the selector filters the SDKs send (offset, sequence number,
# enqueued time, @latest, -1), the events' annotations and properties,
# dense sequence numbers continuing from the stored last one, credit, and
# the live tail woken through the inbox; epoch (owner level) receivers on
# one node and across two nodes.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use Time::HiRes ();

require_modules(qw(core http amqp));

our $AUD = 'localhost%2Fdevices%2F';
our $EH = 'sb://localhost/test';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }";

sub check {
    my ($r, $t, $key, $want) = @_;
    my $ok = ref $want ? Test::More::is_deeply($r->{$key}, $want, $t)
                       : Test::More::is($r->{$key}, $want, $t);
    Test::More::diag(Test::More::explain($r)) unless $ok;
}

# the partition of a device: FNV-1a of its id mod 4 (redis-schema.md)
sub partition_of {
    my $h = 2166136261;
    for my $c (unpack 'C*', shift) {
        $h ^= $c;
        $h = ($h * 16777619) % 4294967296;
    }
    return $h % 4;
}

# a token of a policy for an audience, signed with the key's text
sub eh_token {
    my ($audience, %o) = @_;
    my $policy = $o{policy} // 'service';
    (my $res = $audience) =~ s{^sb://}{};
    return sas_token(resource => "sb://$res", policy => $policy,
                     key => $o{key} // $POLICY_KEYS{$policy}[0],
                     raw_key => $o{raw_key} // 1, %{$o{extra} // {}});
}

sub put_token {
    my ($c, $audience, %o) = @_;
    return $c->cmd(op => 'cbs', audience => $audience,
                   token => $o{token} // eh_token($audience, %o));
}

sub partition_address {
    my ($p, $cg) = @_;
    return 'test/ConsumerGroups/' . ($cg // '$default') . "/Partitions/$p";
}

# an EH client with a token for a partition and a receiver on it
sub eh_receiver {
    my ($c, $name, $p, %o) = @_;
    my $addr = partition_address($p, $o{cg});
    my $r = put_token($c, "$EH/ConsumerGroups/" . ($o{cg} // '$default')
                          . "/Partitions/$p");
    die "put-token: " . Test::More::explain($r) unless $r->{status} == 200;
    return $c->cmd(op => 'eh_receiver', name => $name, address => $addr,
                   filter => $o{filter}, credit => $o{credit} // 10,
                   epoch => $o{epoch});
}

# device messages, each accepted once stored
sub send_events {
    return send_events_to($AMQP_PORT, @_);
}

sub send_events_to {
    my ($port, $dev, @messages) = @_;
    my $c = amqp_client(port => $port);
    my $r = $c->cmd(op => 'cbs', audience => "$AUD$dev",
                    token => device_token($dev));
    die "put-token $dev: $r->{status}\n" unless ($r->{status} // 0) == 200;
    $r = $c->cmd(op => 'sender', name => $dev,
                 address => "/devices/$dev/messages/events");
    die "attach $dev\n" unless $r->{ok};
    $r = $c->cmd(op => 'send', name => $dev,
                 messages => [map { ref $_ ? $_ : {body => $_} } @messages]);
    die "send: " . Test::More::explain($r)
        if grep { $_ ne 'accepted' } @{$r->{outcomes}};
    $c->close;
}

# the bodies of n events
sub bodies {
    my ($c, $name, $n) = @_;
    my @b;
    for (1 .. $n) {
        my $r = $c->cmd(op => 'event', name => $name);
        push @b, $r->{event} ? $r->{event}{body}[1] : Test::More::explain($r);
    }
    return \@b;
}

# the receivers' claims of a group's partition (eh_claim.lua)
sub owners_key {
    my ($p, $cg) = @_;
    return 'iothub:test:eh-owners:' . lc($cg // '$default') . ":$p";
}

# a receiver's detach: [condition, description]
sub detached {
    my ($c, $name) = @_;
    my $r = $c->cmd(op => 'detached', name => $name);
    Test::More::diag(Test::More::explain($r)) unless defined $r->{error};
    return [$r->{error}, $r->{description}];
}

# the consumer groups REST (docs/rest-extensions.md): {status, json}
sub cg {
    my ($method, $name, $auth) = @_;
    my $path = '/eventHubEndpoints/events/consumerGroups'
               . (defined $name ? "/$name" : '');
    my $r = http_request($method, $path,
                         [[Host => 'localhost'], [Connection => 'close'],
                          [Authorization => $auth // sas_token()],
                          ['Content-Length' => 0]]);
    my $json = eval { JSON::PP::decode_json($r->{body}) };
    return {status => $r->{status}, json => $json, body => $r->{body}};
}

sub ann {
    my ($e, $k) = @_;
    return $e->{annotations}{$k};
}

# messages packed as d2c_append.lua stores a turn's (ngx_iothub_d2c_pack.h):
# each [field, value, ...]
sub packed {
    return join '', map {
        pack('n', @$_ / 2) . join '', map { pack('N', length) . "$_\0" } @$_
    } @_;
}

# a partition's facts by $management READ
sub partition_facts {
    my ($c, $p) = @_;
    my $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:partition',
                    partition => "$p");
    return [map { $r->{body}{$_}[1] }
            qw(begin_sequence_number last_enqueued_sequence_number)];
}

run_tests();

__DATA__

=== TEST 1: $management READ of the entity and of a partition
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $c = amqp_client(sasl => 'ANONYMOUS');
    my $r = ::put_token($c, "$::EH/\$management");
    ::check($r, "$t: put-token", 'status', 200);
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:eventhub');
    ::check($r, "$t: eventhub status", 'status', 200);
    ::check($r, "$t: status-code is an int", 'status_type', 'int32');
    ::check($r, "$t: correlated", 'correlated', 1);
    ::check($r, "$t: OK", 'description', 'OK');
    my $b = $r->{body};
    Test::More::is_deeply([@$b{qw(name type partition_count)}],
        [[str => 'test'], [str => 'com.microsoft:eventhub'], [int32 => 4]],
        "$t: eventhub map");
    Test::More::is_deeply($b->{partition_ids},
        [Array => [map { [str => "$_"] } 0 .. 3]], "$t: partition ids");
    Test::More::is($b->{created_at}[0], 'timestamp', "$t: created_at");

    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:partition',
                 partition => "$p");
    ::check($r, "$t: empty partition", 'body', {
        name => [str => 'test'], type => [str => 'com.microsoft:partition'],
        partition => [str => "$p"], begin_sequence_number => [int => 0],
        last_enqueued_sequence_number => [int => -1],
        last_enqueued_offset => [str => '-1'],
        last_enqueued_time_utc => [timestamp => 0],
        is_partition_empty => [bool => JSON::PP::true]});

    ::send_events('dev1', qw(a b c));
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:partition',
                 partition => "$p");
    my %want = (begin_sequence_number => [int => 0],
                last_enqueued_sequence_number => [int => 2],
                last_enqueued_offset => [str => '2'],
                is_partition_empty => [bool => JSON::PP::false]);
    Test::More::is_deeply({map { $_ => $r->{body}{$_} } keys %want}, \%want,
                          "$t: three events");
    Test::More::cmp_ok(abs($r->{body}{last_enqueued_time_utc}[1]
                           - time * 1000), '<', 60000,
                       "$t: last enqueued time is now");

    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:partition',
                 partition => '4');
    ::check($r, "$t: partition out of range", 'status', 400);
    ::check($r, "$t: its condition", 'condition',
            'com.microsoft:argument-out-of-range');
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:eventhub',
                 entity => 'other');
    ::check($r, "$t: another entity", 'status', 404);
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:consumergroup');
    ::check($r, "$t: unknown type", 'status', 400);
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:eventhub',
                 operation => 'CREATE');
    ::check($r, "$t: unknown operation", 'status', 400);
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 2: CBS: policy tokens signed with the key's text; others 401
--- stream_config eval: $::AMQP_SERVER
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client(sasl => 'ANONYMOUS');
    my $aud = "$::EH/ConsumerGroups/\$default/Partitions/0";
    my %cases = (
        'raw key' => [200],
        'secondary key' => [200, key => $POLICY_KEYS{service}[1]],
        'iothubowner' => [200, policy => 'iothubowner'],
        'base64-decoded key' => [401, raw_key => 0],
        'expired' => [401, extra => {expiry => time - 10}],
        'no service_connect' => [401, policy => 'registryRead'],
        'device policy' => [401, policy => 'device'],
        'another host' => [401, token => ::eh_token(
                               'sb://other/test/ConsumerGroups/$default/'
                               . 'Partitions/0')],
        'not covering' => [401, token => ::eh_token(
                               "$::EH/ConsumerGroups/\$default/Partitions/1")],
        'device token' => [401, token => device_token('dev1')],
        'malformed' => [401, token => 'SharedAccessSignature sr=x']);
    for my $k (sort keys %cases) {
        my ($status, %o) = @{$cases{$k}};
        my $r = ::put_token($c, $aud, %o);
        ::check($r, "$t: $k", 'status', $status);
    }

    # a receiver needs a covering token
    my $r = $c->cmd(op => 'eh_receiver', name => 'r1',
                    address => ::partition_address(1));
    ::check($r, "$t: no token for partition 1", 'error',
            'amqp:unauthorized-access');
    $r = $c->cmd(op => 'eh_receiver', name => 'r0',
                 address => ::partition_address(0));
    ::check($r, "$t: partition 0 with its token", 'ok', 1);
    $c->close;

    # a token for the entity covers its partitions and $management
    $c = amqp_client(sasl => 'ANONYMOUS');
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:eventhub');
    Test::More::like($r->{exception} // '', qr/unauthorized-access|detach/i,
                     "$t: \$management without a token");
    $c->close;
    $c = amqp_client(sasl => 'ANONYMOUS');
    ::check(::put_token($c, $::EH), "$t: entity token", 'status', 200);
    $r = $c->cmd(op => 'eh_receiver', name => 'r3',
                 address => ::partition_address(3));
    ::check($r, "$t: partition 3 with the entity's token", 'ok', 1);
    $r = $c->cmd(op => 'mgmt', type => 'com.microsoft:eventhub');
    ::check($r, "$t: \$management with the entity's token", 'status', 200);
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 3: filters: -1, offsets (exclusive, inclusive), sequence numbers, none
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', map { "m$_" } 0 .. 5);
    my $c = amqp_client(sasl => 'ANONYMOUS');
    my %cases = (
        'start' => ["amqp.annotation.x-opt-offset > '-1'", 0],
        'offset >' => ["amqp.annotation.x-opt-offset > '1'", 2],
        'offset >=' => ["amqp.annotation.x-opt-offset >= '1'", 1],
        'sequence >' => ["amqp.annotation.x-opt-sequence-number > '2'", 3],
        'sequence >=' => ["amqp.annotation.x-opt-sequence-number >= '2'", 2],
        'unquoted' => ['amqp.annotation.x-opt-sequence-number > 3', 4],
        'sequence -1' => ["amqp.annotation.x-opt-sequence-number > '-1'", 0],
        'no filter' => [undef, 0]);
    my $i = 0;
    for my $k (sort keys %cases) {
        my ($filter, $first) = @{$cases{$k}};
        my $r = ::eh_receiver($c, "r$i", $p, filter => $filter);
        ::check($r, "$t: $k attached", 'ok', 1);
        Test::More::is_deeply(::bodies($c, "r$i", 6 - $first),
                              [map { "m$_" } $first .. 5], "$t: $k");
        $i++;
    }

    # the events' numbers
    ::eh_receiver($c, 'n', $p, filter => "amqp.annotation.x-opt-offset > '-1'");
    for my $n (0 .. 5) {
        my $e = $c->cmd(op => 'event', name => 'n')->{event};
        Test::More::is_deeply([map { ::ann($e, $_) }
                               qw(x-opt-sequence-number x-opt-offset)],
                              [[int => $n], [str => "$n"]],
                              "$t: event $n: sequence number and offset");
    }
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 4: filters: enqueued time, @latest (live tail), refusals
--- stream_config eval: $::AMQP_SERVER
--- main_config eval
iothub_block(hub_extra => 'consumer_group analytics;')
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', map { "m$_" } 0 .. 3);
    ::send_events('dev1', map { "m$_" } 4 .. 7);
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'all', $p, filter => "amqp.annotation.x-opt-offset > '-1'");
    my @e = map { $c->cmd(op => 'event', name => 'all')->{event} } 0 .. 7;
    my @ms = map { ::ann($_, 'x-opt-enqueued-time')->[1] } @e;
    my $m = $ms[4];
    my ($ge) = grep { $ms[$_] >= $m } 0 .. 7;
    my ($gt) = grep { $ms[$_] > $m } 0 .. 7;
    my $r = ::eh_receiver($c, 'ge', $p,
        filter => "amqp.annotation.x-opt-enqueued-time >= '$m'");
    Test::More::is_deeply(::bodies($c, 'ge', 1), ["m$ge"], "$t: time >=");
    if (defined $gt) {
        ::eh_receiver($c, 'gt', $p,
            filter => "amqp.annotation.x-opt-enqueued-time > '$m'");
        Test::More::is_deeply(::bodies($c, 'gt', 1), ["m$gt"], "$t: time >");
    } else {
        Test::More::pass("$t: time > (all in one ms)");
    }

    # @latest: only what comes after; it comes without polling
    $r = ::eh_receiver($c, 'latest', $p, cg => 'Analytics',
        filter => "amqp.annotation.x-opt-offset > '\@latest'");
    ::check($r, "$t: \@latest attached (configured group)", 'ok', 1);
    ::send_events('dev1', 'new');
    Test::More::is_deeply(::bodies($c, 'latest', 1), ['new'],
                          "$t: \@latest gets the new event");
    Test::More::is_deeply(::bodies($c, 'all', 1), ['new'],
                          "$t: the tail of 'all' too");
    $r = ::eh_receiver($c, 'bad', $p, filter => "amqp.annotation.x-opt-foo > '1'");
    ::check($r, "$t: unknown filter", 'error', 'com.microsoft:argument-error');
    $r = ::eh_receiver($c, 'cg', $p, cg => 'nope');
    ::check($r, "$t: unknown consumer group", 'error', 'amqp:not-found');
    ::put_token($c, "$::EH/ConsumerGroups/\$default/Partitions/4");
    $r = $c->cmd(op => 'eh_receiver', name => 'p4',
                 address => ::partition_address(4));
    ::check($r, "$t: no partition 4", 'error', 'amqp:not-found');
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 5: an event's body, properties, application properties and annotations
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1'), put_module('dev1', 'mod1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', {body => '{"t":21}', id => 'm1',
        correlation_id => 'c1', content_type => 'application/json',
        content_encoding => 'utf-8', user_id => 'u1',
        expiry => 1900000000000, properties => {alert => 'high'}});
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'r', $p);
    my $e = $c->cmd(op => 'event', name => 'r')->{event};
    my %want = (body => [bytes => '{"t":21}'], data_section => JSON::PP::true,
                id => [str => 'm1'], correlation_id => [str => 'c1'],
                content_type => 'application/json',
                content_encoding => 'utf-8', user_id => 'u1',
                expiry => 1900000000000,
                properties => {alert => [str => 'high']});
    Test::More::is_deeply({map { $_ => $e->{$_} } keys %want}, \%want,
                          "$t: body and properties");
    my $a = $e->{annotations};
    Test::More::is_deeply([@$a{qw(x-opt-sequence-number x-opt-offset
                                   iothub-connection-device-id
                                   iothub-message-source)}],
                          [[int => 0], [str => '0'], [str => 'dev1'],
                           [str => 'Telemetry']], "$t: annotations");
    Test::More::is($a->{'x-opt-enqueued-time'}[0], 'timestamp',
                   "$t: x-opt-enqueued-time is a timestamp");
    Test::More::is($a->{'iothub-enqueuedtime'}[0], 'timestamp',
                   "$t: iothub-enqueuedtime is a timestamp");
    Test::More::cmp_ok(abs($a->{'iothub-enqueuedtime'}[1]
                           - $a->{'x-opt-enqueued-time'}[1]), '<', 5000,
                       "$t: both about when it was stored");
    Test::More::like($a->{'iothub-connection-auth-method'}[1],
                     qr/"scope":"device","type":"sas"/, "$t: auth method");
    Test::More::ok(!exists $a->{'iothub-connection-module-id'},
                   "$t: no module id for a device");

    # a module's message: its module id; the device's partition
    my $m = amqp_client();
    my $r = $m->cmd(op => 'cbs', audience => $::AUD . "dev1%2Fmodules%2Fmod1",
                    token => device_token(device => 'dev1', module => 'mod1'));
    $m->cmd(op => 'sender', name => 's',
            address => '/devices/dev1/modules/mod1/messages/events');
    $m->cmd(op => 'send', name => 's', messages => [{body => 'from mod1'}]);
    $m->close;
    $e = $c->cmd(op => 'event', name => 'r')->{event};
    Test::More::is_deeply([$e->{body}, ::ann($e, 'iothub-connection-module-id'),
                           ::ann($e, 'x-opt-sequence-number')],
                          [[bytes => 'from mod1'], [str => 'mod1'],
                           [int => 1]], "$t: module message");
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 6: credit: no more events than granted
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', map { "m$_" } 0 .. 4);
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'r', $p, credit => 0);
    $c->cmd(op => 'flow', name => 'r', credit => 2);
    my $r = $c->cmd(op => 'buffered', name => 'r', want => 3, timeout => 0.5);
    ::check($r, "$t: two with credit 2", 'count', 2);
    $c->cmd(op => 'flow', name => 'r', credit => 3);
    $r = $c->cmd(op => 'buffered', name => 'r', want => 5);
    ::check($r, "$t: five with 3 more", 'count', 5);
    Test::More::is_deeply(::bodies($c, 'r', 5), [map { "m$_" } 0 .. 4],
                          "$t: in order");
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 7: sequence numbers continue from the partition's stored last one
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- redis eval
[[SET => 'iothub:test:d2c-last:' . partition_of('dev1'), '1700000000000-41']]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', 'a', 'b');
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'r', $p);
    my @seq = map { ::ann($c->cmd(op => 'event', name => 'r')->{event},
                          'x-opt-sequence-number')->[1] } 1 .. 2;
    Test::More::is_deeply(\@seq, [42, 43], "$t: 42, 43");
    my $r = $c->cmd(op => 'eh_receiver', name => 's',
                    address => ::partition_address($p),
                    filter => "amqp.annotation.x-opt-sequence-number >= '43'");
    Test::More::is_deeply(::bodies($c, 's', 1), ['b'], "$t: seek to 43");
    $c->close;
 }]]
--- redis_check eval
[[['GET', 'iothub:test:d2c-last:' . partition_of('dev1')], qr/^\d+-43$/]]
--- no_error_log
[error]

=== TEST 8: consumer_group: invalid or duplicate names fail nginx -t
--- main_config eval
iothub_block(hub_extra => 'consumer_group analytics; consumer_group ANALYTICS;')
--- must_die
--- error_log
duplicate consumer group "ANALYTICS" in "consumer_group" directive

=== TEST 9: consumer_group: a name with a space
--- main_config eval
iothub_block(hub_extra => 'consumer_group "a b";')
--- must_die
--- error_log
invalid consumer group name "a b" in "consumer_group" directive

=== TEST 10: consumer_group: $Default exists already (and "$" is not allowed)
--- main_config eval
iothub_block(hub_extra => 'consumer_group $Default;')
--- must_die
--- error_log
invalid consumer group name "$Default" in "consumer_group" directive

=== TEST 11: epochs: a higher one displaces, a lower one and a non-epoch one are refused
--- main_config eval
iothub_block(hub_extra => 'consumer_group Analytics;')
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $a = amqp_client(sasl => 'ANONYMOUS');
    my $b = amqp_client(sasl => 'ANONYMOUS');
    my $r = ::eh_receiver($a, 'plain', $p);
    ::check($r, "$t: a receiver without epoch", 'ok', 1);
    $r = ::eh_receiver($a, 'plain2', $p);
    ::check($r, "$t: a second one", 'ok', 1);
    $r = ::eh_receiver($a, 'e1', $p, epoch => 1);
    ::check($r, "$t: epoch 1 attached", 'ok', 1);
    for my $n (qw(plain plain2)) {
        my $d = ::detached($a, $n);
        Test::More::is($d->[0], 'amqp:link:stolen', "$t: $n displaced");
        Test::More::like($d->[1], qr/higher epoch of '1' .* without epoch/,
                         "$t: $n: Azure's words");
    }

    $r = ::eh_receiver($b, 'e2', $p, epoch => 2);
    ::check($r, "$t: epoch 2 on another connection", 'ok', 1);
    Test::More::is_deeply(::detached($a, 'e1'),
        ['amqp:link:stolen', "New receiver with higher epoch of '2' is "
         . "created hence current receiver with epoch '1' is getting "
         . "disconnected. If you are recreating the receiver, make sure a "
         . "higher epoch is used."], "$t: epoch 1 displaced by 2");

    $r = ::eh_receiver($a, 'low', $p, epoch => 1);
    ::check($r, "$t: epoch 1 refused now", 'error', 'amqp:link:stolen');
    Test::More::like($r->{description}, qr/epoch '1' cannot .* epoch '2'/,
                     "$t: lower: description");
    $r = ::eh_receiver($a, 'none', $p);
    ::check($r, "$t: no epoch refused", 'error', 'amqp:link:stolen');
    Test::More::like($r->{description}, qr/epoch of '2', and so non-epoch/,
                     "$t: non-epoch: description");

    # another group, another partition: not held
    $r = ::eh_receiver($a, 'cg', $p, cg => 'Analytics');
    ::check($r, "$t: another consumer group", 'ok', 1);
    $r = ::eh_receiver($a, 'other', ($p + 1) % 4);
    ::check($r, "$t: another partition", 'ok', 1);

    # an equal epoch takes over too, and reads
    $r = ::eh_receiver($a, 'e2b', $p, epoch => 2);
    ::check($r, "$t: an equal epoch", 'ok', 1);
    Test::More::is(::detached($b, 'e2')->[0], 'amqp:link:stolen',
                   "$t: the equal epoch displaced the first");
    ::send_events('dev1', 'x');
    Test::More::is_deeply(::bodies($a, 'e2b', 1), ['x'], "$t: the owner reads");

    # its detach lets receivers without epoch in again
    $a->cmd(op => 'detach', name => 'e2b');
    $r = ::eh_receiver($a, 'after', $p);
    ::check($r, "$t: no epoch after the owner left", 'ok', 1);
    $b->close;
    $a->close;
 }]]
--- redis_check eval
[[['EXISTS', owners_key(partition_of('dev1'))], 0],
 [['EXISTS', owners_key(partition_of('dev1'), 'analytics')], 0]]
--- no_error_log
[error]

=== TEST 12: epochs: claims in Redis, with deadlines; a dead worker's claim lapses
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- redis eval
my $k = owners_key(partition_of('dev1'));
[[HSET => $k, 'iothub:inbox:0123 7', '5 1000'],
 [HSET => $k, 'iothub:inbox:4567 8', '-1 1000']]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $k = ::owners_key($p);
    my $a = amqp_client(sasl => 'ANONYMOUS');
    my $r = ::eh_receiver($a, 'plain', $p);
    ::check($r, "$t: lapsed epoch 5: not held", 'ok', 1);
    my $h = {@{redis_cmd('HGETALL', $k)}};
    Test::More::is(scalar(keys %$h), 1, "$t: the lapsed claims went");
    my ($v) = values %$h;
    my ($f) = keys %$h;
    Test::More::like($f, qr/^iothub:inbox:[0-9a-f]{32} \d+$/, "$t: field");
    Test::More::like($v, qr/^-1 (\d+)$/, "$t: no epoch, a deadline");
    my ($deadline) = $v =~ / (\d+)$/;
    my $now = int(Time::HiRes::time() * 1000);
    Test::More::cmp_ok($deadline - $now, '>', 20000, "$t: deadline > 20 s");
    Test::More::cmp_ok($deadline - $now, '<=', 31000, "$t: deadline <= 30 s");
    Test::More::cmp_ok(redis_cmd('PTTL', $k), '>', 20000, "$t: key TTL");

    # a live epoch claim of another node: epoch 9 holds the partition
    redis_cmd('HSET', $k, 'iothub:inbox:89ab 3', '9 ' . ($now + 60000));
    $r = ::eh_receiver($a, 'e3', $p, epoch => 3);
    ::check($r, "$t: epoch 3 < 9 refused", 'error', 'amqp:link:stolen');
    $r = ::eh_receiver($a, 'e9', $p, epoch => 9);
    ::check($r, "$t: epoch 9 takes it", 'ok', 1);
    Test::More::is(::detached($a, 'plain')->[0], 'amqp:link:stolen',
                   "$t: the receiver without epoch went");
    Test::More::is(redis_cmd('HEXISTS', $k, 'iothub:inbox:89ab 3'), 0,
                   "$t: the other node's claim went");
    $r = ::eh_receiver($a, 'neg', $p, epoch => -1);
    ::check($r, "$t: negative epoch", 'error', 'com.microsoft:argument-error');
    $a->close;
 }]]
--- redis_check eval
[[['EXISTS', owners_key(partition_of('dev1'))], 0]]
--- no_error_log
[error]

=== TEST 13: epochs across two nodes: the displaced receiver's node hears it through its inbox
--- nodes: 2
--- stream_server_config
iothub_amqp test;
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $a = amqp_client(sasl => 'ANONYMOUS', port => (node_port(1))[1]);
    my $b = amqp_client(sasl => 'ANONYMOUS', port => (node_port(2))[1]);
    my $r = ::eh_receiver($a, 'e1', $p, epoch => 1);
    ::check($r, "$t: epoch 1 on node 1", 'ok', 1);
    $r = ::eh_receiver($b, 'e2', $p, epoch => 2);
    ::check($r, "$t: epoch 2 on node 2", 'ok', 1);
    Test::More::is(::detached($a, 'e1')->[0], 'amqp:link:stolen',
                   "$t: node 1's receiver displaced");
    $r = ::eh_receiver($a, 'e1b', $p, epoch => 1);
    ::check($r, "$t: epoch 1 refused on node 1", 'error', 'amqp:link:stolen');
    $r = ::eh_receiver($a, 'e3', $p, epoch => 3);
    ::check($r, "$t: epoch 3 on node 1", 'ok', 1);
    Test::More::is(::detached($b, 'e2')->[0], 'amqp:link:stolen',
                   "$t: node 2's receiver displaced");
    ::send_events_to((node_port(2))[1], 'dev1', 'y');
    Test::More::is_deeply(::bodies($a, 'e3', 1), ['y'],
                          "$t: the owner reads what node 2 stored");
    $b->close;
    $a->close;
 }]]
--- redis_check eval
[[['EXISTS', owners_key(partition_of('dev1'))], 0]]
--- no_error_log
[error]

=== TEST 14: consumer groups at run time over REST; receivers on them; unknown ones refused
--- main_config eval
iothub_block(hub_extra => 'consumer_group Analytics;')
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $list = sub { [map { $_->{name} } @{::cg('GET')->{json}{value}}] };
    Test::More::is_deeply($list->(), ['$Default', 'Analytics'],
                          "$t: the list: \$Default and the configured one");
    my $r = ::cg('PUT', 'Reports');
    Test::More::is($r->{status}, 201, "$t: created: 201");
    Test::More::is($r->{json}{name}, 'Reports', "$t: its name");
    Test::More::like($r->{json}{properties}{created},
                     qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/, "$t: created");
    Test::More::is($r->{json}{properties}{source}, 'runtime', "$t: runtime");
    $r = ::cg('PUT', 'reports');
    Test::More::is_deeply([$r->{status}, $r->{json}{name}], [200, 'Reports'],
                          "$t: PUT again, any case: 200, the group");
    $r = ::cg('GET', 'REPORTS');
    Test::More::is_deeply([$r->{status}, $r->{json}{name}], [200, 'Reports'],
                          "$t: GET one");
    $r = ::cg('GET', 'analytics');
    Test::More::is_deeply([$r->{status}, $r->{json}{properties}{source}],
                          [200, 'configuration'], "$t: GET a configured one");
    Test::More::is_deeply($list->(), ['$Default', 'Analytics', 'Reports'],
                          "$t: listed");

    my $c = amqp_client(sasl => 'ANONYMOUS');
    $r = ::eh_receiver($c, 'rep', $p, cg => 'reports', epoch => 1);
    ::check($r, "$t: a receiver on the new group", 'ok', 1);
    ::send_events('dev1', 'r');
    Test::More::is_deeply(::bodies($c, 'rep', 1), ['r'], "$t: it reads");

    Test::More::is(::cg('DELETE', 'Analytics')->{status}, 400,
                   "$t: a configured group is not deleted");
    Test::More::is(::cg('DELETE', '$Default')->{status}, 400,
                   "$t: nor \$Default");
    Test::More::is(::cg('PUT', 'a%20b')->{status}, 400, "$t: invalid name");
    Test::More::is(::cg('PUT', 'x' x 51)->{status}, 400, "$t: 51 bytes");
    Test::More::is(::cg('DELETE', 'REPORTS')->{status}, 204, "$t: deleted");
    Test::More::is(::cg('DELETE', 'reports')->{status}, 404, "$t: gone");
    Test::More::is(::cg('GET', 'reports')->{status}, 404, "$t: GET: 404");
    $r = ::eh_receiver($c, 'rep2', $p, cg => 'reports');
    ::check($r, "$t: receivers on a deleted group are refused", 'error',
            'amqp:not-found');
    $c->close;

    $r = ::cg('GET', undef, sas_token(policy => 'registryRead'));
    Test::More::is($r->{status}, 401, "$t: needs service_connect");
    $r = ::cg('POST');
    Test::More::is($r->{status}, 405, "$t: POST on the list");
 }]]
--- redis_check eval
[[['HGETALL', 'iothub:test:eh-groups'], []]]
--- no_error_log
[error]

=== TEST 15: consumer groups: at most 20 besides $Default, the configured ones counted
--- main_config eval
iothub_block(hub_extra => join ' ', map { "consumer_group g$_;" } 1 .. 18)
--- request eval
[{method => 'PUT', path => '/eventHubEndpoints/events/consumerGroups/x1'},
 {method => 'PUT', path => '/eventHubEndpoints/events/consumerGroups/x2'},
 {method => 'PUT', path => '/eventHubEndpoints/events/consumerGroups/x3'},
 {method => 'PUT', path => '/eventHubEndpoints/events/consumerGroups/x1'},
 "REDIS STOP",
 {method => 'GET', path => '/eventHubEndpoints/events/consumerGroups'},
 "REDIS START"]
--- error_code eval
[201, 201, 403, 200, 503]
--- response_body_like eval
[qr/"name":"x1"/, qr/"name":"x2"/,
 qr/^\{"Message":"ErrorCode:IotHubQuotaExceeded;/, qr/"name":"x1"/,
 qr/ServiceUnavailable/]

=== TEST 16: live tail under a burst: no event waits for the 5 s re-check (a notification that overtakes the read's answer counts)
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'r', $p, credit => 20,
                  filter => "amqp.annotation.x-opt-offset > '\@latest'");
    my @sent = map { "b$_" } 1 .. 400;
    for my $i (0 .. 3) {
        ::send_events('dev1', @sent[$i * 100 .. $i * 100 + 99]);
    }
    my @got;
    for (1 .. 400) {
        my $r = $c->cmd(op => 'event', name => 'r', timeout => 2);
        last unless $r->{event};
        push @got, $r->{event}{body}[1];
    }
    Test::More::is(scalar(@got), 400, "$t: all 400 events, none late");
    Test::More::is_deeply(\@got, \@sent, "$t: in order");
    $c->close;
 }]]
--- no_error_log
[error]

=== TEST 17: epochs: claims are renewed every 10 s; a renewal that finds its claim gone (its eh-stolen lost) detaches the receiver
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- timeout: 30
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    my $q = ($p + 1) % 4;
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'gone', $p, epoch => 1);
    ::eh_receiver($c, 'kept', $q);
    my ($field) = keys %{{@{redis_cmd('HGETALL', ::owners_key($p))}}};
    my %before = @{redis_cmd('HGETALL', ::owners_key($q))};
    redis_cmd('HDEL', ::owners_key($p), $field);
    my $d = $c->cmd(op => 'detached', name => 'gone', timeout => 14);
    Test::More::is_deeply([$d->{error}, $d->{description}],
        ['amqp:link:stolen', "The receiver's claim on the partition was "
         . "taken by another receiver or lapsed; it is getting "
         . "disconnected."],
        "$t: the renewal found the claim gone");
    # the other was claimed a moment later: its renewal may still come
    my ($k) = keys %before;
    my ($d0) = $before{$k} =~ / (\d+)$/;
    my $d1 = 0;
    for (1 .. 30) {
        my %after = @{redis_cmd('HGETALL', ::owners_key($q))};
        ($d1) = ($after{$k} // '') =~ / (\d+)$/;
        last if ($d1 // 0) > $d0;
        Time::HiRes::sleep(0.1);
    }
    Test::More::cmp_ok($d1 // 0, '>', $d0, "$t: the other claim was renewed");
    $c->close;
 }]]
--- no_error_log
[error]



=== TEST 18: an entry holds a turn's messages: credit of one, seeks into its middle; an entry of one message (as written before) still reads
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- redis eval
my $p = partition_of('dev1');
[['XADD', "iothub:test:d2c:$p", '1700000000000-0', 'u:k', 'v', 'body', 'old'],
 ['XADD', "iothub:test:d2c:$p", '1700000000001-5', 'n', '5', 'm',
  packed(map { ['a:iothub-connection-device-id', 'dev1', 'body', "p$_"] }
         1 .. 5)],
 ['SET', "iothub:test:d2c-last:$p", '1700000000001-5']]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $p = ::partition_of('dev1');
    ::send_events('dev1', 'live');
    my $c = amqp_client(sasl => 'ANONYMOUS');
    ::eh_receiver($c, 'r', $p, credit => 0);
    my @got;
    for my $credit (1, 1, 2, 10) {
        $c->cmd(op => 'flow', name => 'r', credit => $credit);
        my $n = @got + $credit > 7 ? 7 - @got : $credit;
        for my $e (map { $c->cmd(op => 'event', name => 'r')->{event} } 1 .. $n) {
            push @got, [$e->{body}[1], ::ann($e, 'x-opt-sequence-number')->[1]];
        }
    }
    Test::More::is_deeply(\@got, [['old', 0], (map { ["p$_", $_] } 1 .. 5),
                                  ['live', 6]],
                          "$t: every message once, in order, numbered");
    my $r = $c->cmd(op => 'buffered', name => 'r', want => 1, timeout => 0.3);
    ::check($r, "$t: nothing more", 'count', 0);

    my %cases = ('sequence >= 3' => ["amqp.annotation.x-opt-sequence-number >= '3'", 3],
                 'offset > 3' => ["amqp.annotation.x-opt-offset > '3'", 4],
                 'sequence > 0' => ["amqp.annotation.x-opt-sequence-number > '0'", 1],
                 'offset >= 5' => ["amqp.annotation.x-opt-offset >= '5'", 5]);
    my $i = 0;
    for my $k (sort keys %cases) {
        my ($filter, $first) = @{$cases{$k}};
        ::eh_receiver($c, "s$i", $p, filter => $filter);
        Test::More::is_deeply(::bodies($c, "s$i", 6 - $first + 1),
                              [(map { "p$_" } $first .. 5), 'live'], "$t: $k");
        $i++;
    }

    ::put_token($c, "$::EH/\$management");
    Test::More::is_deeply(::partition_facts($c, $p), [0, 6],
                          "$t: begin 0, last 6");
    redis_cmd("XDEL", "iothub:test:d2c:$p", "1700000000000-0");
    Test::More::is_deeply(::partition_facts($c, $p), [1, 6],
                          "$t: trimmed: begins inside the packed entry");
    $c->close;
 }]]
--- redis_check eval
[[['XLEN', 'iothub:test:d2c:' . partition_of('dev1')], 2]]
--- no_error_log
[error]
