# Jobs v2 statistics (reference/rest.md 10, deviceJobStatistics) as IoT
# Hub reports them: deviceCount is the number of devices the job's
# condition selects, counted when the job starts running (job_count.lua),
# pendingCount what is neither done nor in flight, runningCount what is in
# flight; a count noted before a takeover is kept by the worker that takes
# the job over.

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();
use Time::HiRes ();

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MET = '$iothub/methods/POST/#';

# one device operation at a time, so that the others are visibly pending
our $ONE = iothub_block(extra => 'job_poll_interval 200ms;',
                        hub_extra => 'job_max_in_flight 1;');

sub twin_job {
    my ($id, $cond, $patch) = @_;
    my $j = {jobId => $id, type => 'scheduleUpdateTwin', queryCondition => $cond,
             updateTwin => $patch, maxExecutionTimeInSeconds => 60};
    return {method => 'PUT', path => "/jobs/v2/$id?$V",
            body => JSON::PP->new->canonical->encode($j)};
}

sub method_job {
    my ($id, $cond, $method) = @_;
    my $j = {jobId => $id, type => 'scheduleDeviceMethod', queryCondition => $cond,
             cloudToDeviceMethod => $method, maxExecutionTimeInSeconds => 60};
    return {method => 'PUT', path => "/jobs/v2/$id?$V",
            body => JSON::PP->new->canonical->encode($j)};
}

our $RID;
sub method_req {
    my ($name) = @_;
    return sub {
        my $p = shift;
        return 0 unless $p =~ m{\$iothub/methods/POST/\Q$name\E/\?\$rid=([0-9a-f]{32}\.\d+\.[0-9a-f]{16})}s;
        $RID = $1;
        return 1;
    };
}

sub stats {
    my ($devices, $failed, $succeeded, $running, $pending) = @_;
    return qr/"deviceJobStatistics":\{"deviceCount":$devices,"failedCount":$failed,"succeededCount":$succeeded,"runningCount":$running,"pendingCount":$pending\}\}$/;
}

run_tests();

__DATA__

=== TEST 1: a method job over a condition on tags: while the first device's call is in flight the job counts every selected device, one running, the others pending
--- main_config eval: $main::ONE
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3'), put_device('d4'), put_device('d5'),
 {method => 'PATCH', path => "/twins/d1?$V", body => '{"tags":{"floor":1}}'},
 {method => 'PATCH', path => "/twins/d3?$V", body => '{"tags":{"floor":1}}'},
 {method => 'PATCH', path => "/twins/d5?$V", body => '{"tags":{"floor":1}}'}]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('m1', 'tags.floor = 1', {methodName => 'slow', responseTimeoutInSeconds => 30}), 200,
  main::stats(0, 0, 0, 0, 0)],
 [expect => method_req('slow')],
 # the tick notes what is in flight once a job_poll_interval
 [request => "GET /jobs/v2/m1?$V", 200, qr/"status":"running".*${\ main::stats(3, 0, 0, 1, 2)}/, 3],
 [send => sub {
     mqtt_publish(topic => "\$iothub/methods/res/200/?\$rid=$main::RID", payload => '{}');
 }],
 # d3 and d5 are offline: DeviceNotOnline at once
 [request => "GET /jobs/v2/m1?$V", 200, qr/"status":"completed".*${\ main::stats(3, 2, 1, 0, 0)}/, 10]]
--- error_log
iothub job "m1": 3 devices selected
--- no_error_log
[error]


=== TEST 2: a condition naming its devices counts those that exist; a cancelled job keeps what it did not reach pending
--- main_config eval: $main::ONE
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3')]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('c1', "deviceId IN ['d1', 'd2', 'd3', 'nosuch']", {methodName => 'hold', responseTimeoutInSeconds => 30}), 200],
 [expect => method_req('hold')],
 [request => "GET /jobs/v2/c1?$V", 200, qr/"status":"running".*${\ main::stats(3, 0, 0, 1, 2)}/, 3],
 [redis => 'HGET iothub:test:job:c1 counted', '1'],
 [request => {method => 'POST', path => "/jobs/v2/c1/cancel?$V"}, 200,
  qr/"status":"cancelled".*${\ main::stats(3, 0, 0, 0, 3)}/],
 [request => "GET /jobs/v2/c1?$V", 200, qr/"status":"cancelled".*${\ main::stats(3, 0, 0, 0, 3)}/]]
--- no_error_log
[error]


=== TEST 3: a twin job over 250 devices, 249 selected: the count walks the twins through the query service before the first chunk; the completed job has nothing pending
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 100ms;', hub_extra => 'job_max_in_flight 20;')
--- request eval
[(map { put_device(sprintf 'c%03d', $_) } 1 .. 250),
 {method => 'PATCH', path => "/twins/c007?$V", body => '{"tags":{"skip":true}}'},
 twin_job('many', "status = 'enabled' AND NOT IS_DEFINED(tags.skip)", {tags => {batch => 7}}),
 "SLEEP 4",
 "GET /jobs/v2/many?$V"]
--- response_body_like eval
[(map { qr/^\{"deviceId":"c\d+"/ } 1 .. 251),
 qr/"status":"queued"/,
 qr/"status":"completed".*${\ main::stats(249, 0, 249, 0, 0)}/]
--- redis_check
HGET iothub:test:job:many deviceCount => 249
--- error_log
iothub job "many": 249 devices selected
--- no_error_log
[error]


=== TEST 4: a job taken over after its count was noted keeps the count: the new worker goes on after the cursor and does not count again
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 200ms;')
--- redis eval
my $now = int(Time::HiRes::time() * 1000);
[[qw(HSET iothub:test:job:left jobId left type scheduleUpdateTwin),
  queryCondition => "deviceId IN ['d1','d2','d3','d4']", spec => '{"tags":{"t":1}}',
  status => 'running', createdTime => '2026-01-01T00:00:00.000Z',
  startTime => '2026-01-01T00:00:00.000Z', maxExecutionTimeInSeconds => 600,
  startMs => $now, deadlineMs => $now + 600000, deviceCount => 5, counted => 1,
  failedCount => 0, succeededCount => 2, runningCount => 1, cursor => 'd2',
  owner => 'iothub:inbox:00000000000000000000000000000000'],
 [qw(ZADD iothub:test:jobs 1 left)],
 [qw(ZADD iothub:test:jobs:run), $now + 1500, 'left']]
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3'), put_device('d4'),
 "GET /jobs/v2/left?$V",
 "SLEEP 2.5",
 "GET /jobs/v2/left?$V"]
--- response_body_like eval
[qr/"d1"/, qr/"d2"/, qr/"d3"/, qr/"d4"/,
 qr/"status":"running".*${\ main::stats(5, 0, 2, 1, 2)}/,
 qr/"status":"completed".*${\ main::stats(5, 0, 4, 0, 0)}/]
--- error_log
iothub job "left" of hub "test": running from "d2"
--- no_error_log eval
[qr/\[error\]/, qr/iothub job "left": \d+ devices selected/]
