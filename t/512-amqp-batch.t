# AMQP batched telemetry (reference/amqp.md 5): the C SDK sends a transfer
# of message-format 0x80013700 whose body is data sections, each a whole
# encoded AMQP message.  Each inner message is its own stream entry with
# its own properties; the transfer is accepted once all are stored.  A
# malformed batch (a body section that is no data section, an empty body,
# an inner section that is no AMQP message) is rejected with
# amqp:decode-error and nothing of it is stored.  Proton 0.37 cannot send
# a message-format, so the client writes the frames itself
# (t/lib/amqp_client.py, op "batch").

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;

require_modules(qw(core http amqp));

our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; "
                   . "iothub_amqp test; }";

sub batch {
    my ($t, %o) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'batch', port => $AMQP_PORT,
                    user => 'dev1@sas.test', password => device_token('dev1'),
                    address => '/devices/dev1/messages/events', %o);
    $c->close;
    return $r;
}

run_tests();

__DATA__

=== TEST 1: a batch of three: three stream entries with their own properties, one outcome; an ordinary transfer after it
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, batches => [[{body => 'one', properties => {n => '1'}},
                                   {body => 'two', properties => {n => '2'}},
                                   {body => ''}]],
                  plain => [{body => 'single'}]);
    is_deeply($r->{outcomes}, ['accepted', 'accepted'],
              "$t: batch and single accepted")
        or diag(Test::More::explain($r));
 }],
 [d2c => [{body => 'one', 'u:n' => '1',
           'a:iothub-connection-device-id' => 'dev1'},
          {body => 'two', 'u:n' => '2'},
          {body => '', 'u:n' => undef},
          {body => 'single'}]]]
--- no_error_log
[error]

=== TEST 2: malformed batches are rejected with amqp:decode-error; nothing of them is stored
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, raw_bodies => [
        # an amqp-value body section
        '005377a10178',
        # no section at all
        '',
        # a data section, then bytes that are no section
        '005375a00100' . 'ff',
        # a data section holding no AMQP message
        '005375a003616263']);
    is_deeply($r->{outcomes}, [('rejected:amqp:decode-error') x 4],
              "$t: rejected") or diag(Test::More::explain($r));
 }],
 [d2c => []]]
--- no_error_log
[error]

=== TEST 3: two batches on one link, back to back: every message stored once
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, batches => [[map { {body => "a$_"} } 1 .. 5],
                                  [map { {body => "b$_"} } 1 .. 5]]);
    is_deeply($r->{outcomes}, ['accepted', 'accepted'], "$t: accepted")
        or diag(Test::More::explain($r));
 }],
 [d2c => [(map { {body => "a$_"} } 1 .. 5), (map { {body => "b$_"} } 1 .. 5)]]]
--- no_error_log
[error]

=== TEST 4: a batch over the frame size (three messages of 30,000 bytes, in two frames): every message stored, one outcome
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, batches => [[map { {body => "$_" x 30000} } 1 .. 3]],
                  plain => [{body => 'after'}]);
    is_deeply($r->{outcomes}, ['accepted', 'accepted'], "$t: accepted")
        or diag(Test::More::explain($r));
 }],
 [d2c => [(map { {body => "$_" x 30000} } 1 .. 3), {body => 'after'}]]]
--- no_error_log
[error]

=== TEST 5: the session's window holds a telemetry link's credit of transfers: 80 sent back to back, each its own transfer, all accepted
Proton counts a session's incoming window in frames of the largest size
(capacity / max frame size); a device's small transfers must not wait for
a flow frame while the link still has credit.
--- stream_config eval
"server { listen 127.0.0.1:$::AMQP_PORT; iothub_amqp test; "
. "iothub_amqp_telemetry_credit 80; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, plain => [map { {body => "m$_"} } 1 .. 80]);
    is($r->{credit}, 80, "$t: the link's credit") or diag(Test::More::explain($r));
    cmp_ok($r->{begin_window}, '>=', 80, "$t: begin: incoming-window");
    cmp_ok($r->{flow_window}, '>=', 80, "$t: flow: incoming-window");
    is_deeply($r->{outcomes}, [('accepted') x 80], "$t: all accepted")
        or diag(Test::More::explain($r));
 }],
 [d2c => [map { {body => "m$_"} } 1 .. 80]]]
--- no_error_log
[error]

=== TEST 6: transfers without a byte are rejected with amqp:decode-error and the worker lives: on the telemetry link, as a batch's data section, on $cbs
Proton 0.37 asserts when asked to decode no bytes: a device could end a
worker with one empty transfer.
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, raw_plain => [''], raw_bodies => ['005375a000'],
                  plain => [{body => 'after'}]);
    # the batch, then the message, then the empty transfer
    is_deeply($r->{outcomes}, ['rejected:amqp:decode-error', 'accepted',
                               'rejected:amqp:decode-error'],
              "$t: telemetry") or diag(Test::More::explain($r));
    $r = batch($t, address => '$cbs', raw_plain => ['']);
    is_deeply($r->{outcomes}, ['rejected:None'], "$t: \$cbs")
        or diag(Test::More::explain($r));
 }],
 [d2c => [{body => 'after'}]]]
--- no_error_log
[alert]
[error]

=== TEST 7: what Proton took but is no telemetry message is rejected with amqp:decode-error and nothing of it stored: a body of two data sections, a properties section twice, a value cut short after the body
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, raw_plain => ['005375a00161005375a00162',
                                    '0053734500537345005375a00161',
                                    '005375a0016174'],
                  plain => [{body => 'after'}]);
    # the message, then the three raw transfers
    is_deeply($r->{outcomes}, ['accepted', ('rejected:amqp:decode-error') x 3],
              "$t: outcomes") or diag(Test::More::explain($r));
 }],
 [d2c => [{body => 'after'}]]]
--- no_error_log
[alert]
[error]

=== TEST 8: a session ended with its link still attached gets an end back, no detach, and the connection closes without an error
A peer's end detaches its links; a detach sent back after it made rhea
(the Node SDKs) answer on the ended channel and fail its close with
amqp:not-allowed "no such channel".
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $r = batch($t, plain => [{body => 'one'}], end_attached => 1);
    is_deeply($r->{outcomes}, ['accepted'], "$t: sent")
        or diag(Test::More::explain($r));
    is_deeply($r->{after_end}, [0x17], "$t: only an end after the end")
        or diag(Test::More::explain($r));
    is($r->{close_error}, 'none', "$t: closed without an error")
        or diag(Test::More::explain($r));
 }],
 [d2c => [{body => 'one'}]]]
--- no_error_log
[alert]
[crit]
[error]
