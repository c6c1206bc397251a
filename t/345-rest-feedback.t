# Cloud-to-device feedback over REST (rest.md: GET
# /messages/serviceBound/feedback, DELETE .../{lockToken}, POST
# .../{lockToken}/abandon; messaging.md 3.5; docs/redis-schema.md): a
# batch of the feedback records as a JSON array under a lock token (the
# ETag), 204 when none is due, completion removes them, abandonment makes
# them due again, a lost lock is 412.

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $FB = '/messages/serviceBound/feedback';

# feedback(method, path suffix, policy): the answer of a feedback request
sub feedback {
    my ($method, $suffix, $policy) = @_;
    return http_request($method, "$FB$suffix?$V",
                        [[Host => 'localhost'], [Connection => 'close'],
                         [Authorization => sas_token(policy => $policy
                                                     // 'service')],
                         ['Content-Length' => 0]]);
}

# A step that queues one C2D message with ack full and completes it over
# MQTT, so that one Success record is written.
sub success_record {
    my ($mid, $id) = @_;
    return ([request => {method => 'POST',
                         path => "/devices/dev1/messages/devicebound?$V",
                         body => 'x',
                         headers => [['iothub-ack', 'full'],
                                     ['iothub-messageid', $mid]]}, 204],
            [expect => sub { $_[0] =~ /\Q$mid\E/ }],
            [send => mqtt_puback($id)],
            [redis => 'XLEN iothub:test:feedback', qr/^[1-9]/, 2]);
}

our $LOCK;

run_tests();

__DATA__

=== TEST 1: nothing to read: 204; a policy without service_connect: 401
--- request eval
[{method => 'GET', path => "$FB?$V"},
 {method => 'GET', path => "$FB?$V",
  headers => [[Authorization => sas_token(policy => 'registryRead')]]}]
--- error_code eval
[204, 401]



=== TEST 2: a batch: 200, the reference's JSON records, ETag the lock; locked meanwhile (204); completion removes it; the lock is then lost (412)
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ['devices/dev1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 1)],
 success_record('m-1', 1),
 [perl => sub {
     my (undef, $t) = @_;
     my $r = feedback('GET', '');
     is($r->{status}, 200, "$t: 200") or diag($r->{raw});
     like($r->{headers}{'content-type'}[0],
          qr{^application/vnd\.microsoft\.iothub\.feedback\.json}, "$t: type");
     ($LOCK) = ($r->{headers}{etag}[0] // '') =~ /^"([0-9a-f]{32})"$/;
     ok($LOCK, "$t: ETag is the lock token");
     my $b = eval { JSON::PP::decode_json($r->{body}) };
     is(ref $b, 'ARRAY', "$t: a JSON array") or diag($r->{body});
     is(scalar @$b, 1, "$t: one record");
     is_deeply([sort keys %{$b->[0]}],
               [qw(description deviceGenerationId deviceId enqueuedTimeUtc
                   originalMessageId statusCode)], "$t: the record's fields");
     is($b->[0]{originalMessageId}, 'm-1', "$t: originalMessageId");
     is($b->[0]{statusCode}, 'Success', "$t: statusCode");
     is($b->[0]{deviceId}, 'dev1', "$t: deviceId");
     is(feedback('GET', '')->{status}, 204, "$t: locked, none due");
     is(feedback('DELETE', "/$LOCK")->{status}, 204, "$t: completed");
     my $again = feedback('DELETE', "/$LOCK");
     is($again->{status}, 412, "$t: the lock is gone");
     like($again->{body}, qr/DeviceMessageLockLost/, "$t: error code");
     is(feedback('GET', '')->{status}, 204, "$t: nothing left");
 }],
 [redis => 'XLEN iothub:test:feedback', 0]]



=== TEST 3: abandonment makes the batch due again at once, under a new lock
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ['devices/dev1/messages/devicebound/#', 1])],
 [expect => mqtt_suback(1, 1)],
 success_record('m-2', 1),
 [perl => sub {
     my (undef, $t) = @_;
     my $r = feedback('GET', '');
     my ($lock) = ($r->{headers}{etag}[0] // '') =~ /^"(\w+)"$/;
     is(feedback('POST', "/$lock/abandon")->{status}, 204, "$t: abandoned");
     my $r2 = feedback('GET', '');
     is($r2->{status}, 200, "$t: due again");
     like($r2->{body}, qr/"originalMessageId":"m-2"/, "$t: the same record");
     my ($lock2) = ($r2->{headers}{etag}[0] // '') =~ /^"(\w+)"$/;
     isnt($lock2, $lock, "$t: a new lock");
     is(feedback('DELETE', "/$lock2")->{status}, 204, "$t: completed");
 }]]
