# Jobs v2 (reference/rest.md 10): PUT /jobs/v2/{id} schedules a twin update
# or a direct method over the devices a condition selects; GET, cancel and
# GET /jobs/v2/query; the runner of any worker of any node takes a due job
# for a lease in Redis and runs it once, with per-device records in
# iothub:test:job:<id>:devices.

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $DES = '$iothub/twin/PATCH/properties/desired/#';
our $MET = '$iothub/methods/POST/#';

our $FAST = iothub_block(extra => 'job_poll_interval 200ms;',
                         hub_extra => 'job_max_concurrent 5;');

sub twin_job {
    my ($id, $cond, $patch, %o) = @_;
    my $j = {jobId => $id, type => 'scheduleUpdateTwin', queryCondition => $cond,
             updateTwin => $patch, maxExecutionTimeInSeconds => $o{max} // 60,
             startTime => $o{start}};
    return {method => 'PUT', path => "/jobs/v2/$id?$V",
            body => JSON::PP->new->canonical->encode($j), %{$o{req} // {}}};
}

sub method_job {
    my ($id, $cond, $method, %o) = @_;
    my $j = {jobId => $id, type => 'scheduleDeviceMethod', queryCondition => $cond,
             cloudToDeviceMethod => $method, maxExecutionTimeInSeconds => $o{max} // 60};
    return {method => 'PUT', path => "/jobs/v2/$id?$V",
            body => JSON::PP->new->canonical->encode($j)};
}

sub iso_in {
    my @t = gmtime(time + shift);
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02d.000Z', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
}

run_tests();

__DATA__

=== TEST 1: smoke: a twin job over three named devices completes
--- main_config eval: $main::FAST
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3'),
 twin_job('j1', "deviceId IN ['d1', 'd2', 'd3', 'nosuch']", {tags => {site => 'x'}, properties => {desired => {mode => 'eco'}}}),
 "SLEEP 2",
 "GET /jobs/v2/j1?$V",
 "GET /twins/d2?$V"]
--- response_body_like eval
[qr/^\{"deviceId":"d1"/, qr/^\{"deviceId":"d2"/, qr/^\{"deviceId":"d3"/,
 qr/^\{"jobId":"j1","type":"scheduleUpdateTwin","queryCondition":"deviceId IN \['d1', 'd2', 'd3', 'nosuch'\]","createdTime":"20[^"]+Z","startTime":"20[^"]+Z","endTime":null,"maxExecutionTimeInSeconds":60,"status":"queued","failureReason":null,"statusMessage":null,"updateTwin":\{"properties":\{"desired":\{"mode":"eco"\}\},"tags":\{"site":"x"\}\},"deviceJobStatistics":\{"deviceCount":0,"failedCount":0,"succeededCount":0,"runningCount":0,"pendingCount":0\}\}$/,
 qr/"status":"completed".*"deviceCount":3,"failedCount":0,"succeededCount":3/,
 qr/"tags":\{"site":"x"\}.*"desired":\{"mode":"eco"/]
--- no_error_log
[error]
