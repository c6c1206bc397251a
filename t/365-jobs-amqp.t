# Jobs v2 over AMQP devices (reference/rest.md 10, amqp.md 8): a method job
# reaches a device whose method links are attached over AMQP, through the
# same direct-method service as REST calls; its answer is the device's
# outcome.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use JSON::PP ();

require_modules(qw(core http mqtt amqp));

our $V = 'api-version=2021-04-12';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; }";
our $MAIN = iothub_block(extra => 'job_poll_interval 100ms;');

sub rest {
    my ($method, $path, $body) = @_;
    return http_request($method, "$path?$V",
                        [[Host => 'localhost'], [Connection => 'close'],
                         [Authorization => sas_token()],
                         ['Content-Type' => 'application/json'],
                         ['Content-Length' => length($body // '')]],
                        $body // '');
}

# getJob until its status is $status (10 s at most); the job
sub job_until {
    my ($id, $status) = @_;
    my $job = {};
    for (1 .. 100) {
        my $r = rest(GET => "/jobs/v2/$id");
        $job = eval { JSON::PP::decode_json($r->{body}) } // {};
        last if ($job->{status} // '') eq $status;
        select undef, undef, undef, 0.1;
    }
    return $job;
}

run_tests();

__DATA__

=== TEST 1: a method job: the AMQP device gets the call with its payload and answers; the job completes with its answer
--- main_config eval: $::MAIN
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'cbs', audience => 'localhost%2Fdevices%2Fdev1',
                    token => device_token('dev1'));
    is($r->{status}, 200, "$t: token put");
    my $props = {'com.microsoft:channel-correlation-id' => 'methods:dev1',
                 'com.microsoft:api-version' => '2021-04-12'};
    for my $dir (qw(sender receiver)) {
        $r = $c->cmd(op => $dir, name => "methods-$dir",
                     address => '/devices/dev1/methods/devicebound',
                     properties => $props);
        ok($r->{ok}, "$t: $dir attached");
    }

    $r = rest(PUT => '/jobs/v2/a1', JSON::PP->new->canonical->encode({
        jobId => 'a1', type => 'scheduleDeviceMethod',
        queryCondition => "deviceId = 'dev1'",
        cloudToDeviceMethod => {methodName => 'reboot', payload => {delay => 2},
                                responseTimeoutInSeconds => 10}}));
    is($r->{status}, 200, "$t: scheduled");

    $r = $c->cmd(op => 'receive', name => 'methods-receiver');
    my $m = $r->{message} // {};
    is($m->{properties}{'IoThub-methodname'}, 'reboot', "$t: method name");
    is($m->{body}, '{"delay":2}', "$t: payload");

    $r = $c->cmd(op => 'send', name => 'methods-sender', messages => [{
        correlation_id => $m->{correlation_id}, correlation_id_type => 'uuid',
        properties => {'IoThub-status' => 200},
        int_properties => ['IoThub-status'], body => '{"up":true}'}]);
    is_deeply($r->{outcomes}, ['accepted'], "$t: answer accepted");

    my $job = job_until('a1', 'completed');
    is($job->{status}, 'completed', "$t: job completed");
    is($job->{deviceJobStatistics}{succeededCount}, 1, "$t: one succeeded");
    my $rec = JSON::PP::decode_json(redis_cmd(qw(HGET iothub:test:{dev1}:jobs a1)) // '{}');
    is_deeply($rec->{outcome}, {deviceMethodResponse => {status => 200, payload => {up => JSON::PP::true}}},
              "$t: the device's answer is the outcome");
    $c->close;
}]]
--- no_error_log
[error]
