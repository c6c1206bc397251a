# Jobs v2 (reference/rest.md 10): PUT /jobs/v2/{id} schedules a twin update
# or a direct method over the devices a condition selects; GET, cancel and
# GET /jobs/v2/query; the runner of any worker of any node takes a due job
# for a lease in Redis and runs it once, with per-device records in
# iothub:test:{<device>}:jobs (the rows of devices.jobs).

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();
use Time::HiRes ();

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

# An expect check: a method request for $name with $payload; its rid is
# kept in $RID for the answer.
our $RID;
sub method_req {
    my ($name, $payload) = @_;
    return sub {
        my $p = shift;
        return 0 unless $p =~ m{\$iothub/methods/POST/\Q$name\E/\?\$rid=([0-9a-f]{32}\.\d+\.[0-9a-f]{16})(.*)$}s;
        $RID = $1;
        return $2 eq $payload;
    };
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


=== TEST 2: a twin job with a condition over tags reads every twin: only matching devices change; a connected device gets the desired notification
--- main_config eval: $main::FAST
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3'),
 {method => 'PATCH', path => "/twins/d1?$V", body => '{"tags":{"floor":1}}'},
 {method => 'PATCH', path => "/twins/d3?$V", body => '{"tags":{"floor":1}}'}]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$DES, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => twin_job('j2', 'tags.floor = 1 AND status = \'enabled\'', {properties => {desired => {fan => 3}}}), 200, qr/"status":"queued"/],
 [expect => mqtt_publish(topic => '$iothub/twin/PATCH/properties/desired/?$version=2', payload => '{"fan":3,"$version":2}')],
 [request => "GET /jobs/v2/j2?$V", 200, qr/"status":"completed".*"deviceCount":2,"failedCount":0,"succeededCount":2/, 10],
 [request => "GET /twins/d2?$V", 200, qr/"desired":\{"\$metadata"/],
 [request => "GET /twins/d3?$V", 200, qr/"desired":\{"fan":3,/],
 [redis => 'HEXISTS iothub:test:{d1}:jobs j2', 1],
 [redis => 'HEXISTS iothub:test:{d2}:jobs j2', 0],
 [redis => 'HGET iothub:test:{d3}:jobs j2', qr/^\{"deviceId":"d3","jobId":"j2","jobType":"scheduleUpdateTwin","status":"completed","startTimeUtc":"20\S+Z","endTimeUtc":"20\S+Z","createdDateTimeUtc":"20\S+Z","lastUpdatedDateTimeUtc":"20\S+Z"\}$/],
 [redis => 'ZCARD iothub:test:jobs:run', 0],
 [request => {method => 'DELETE', path => "/devices/d3?$V", headers => {'If-Match' => '"*"'}}, 204],
 [redis => 'EXISTS iothub:test:{d3}:jobs', 0]]
--- no_error_log
[error]


=== TEST 3: a method job: the connected device answers, the offline one fails with DeviceNotOnline, the statistics count both
--- main_config eval: $main::FAST
--- request eval
[put_device('d1'), put_device('d2')]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('m1', "deviceId IN ['d1','d2']", {methodName => 'reboot', payload => {delay => 1}, responseTimeoutInSeconds => 10}), 200,
  qr/"type":"scheduleDeviceMethod".*"cloudToDeviceMethod":\{"methodName":"reboot","payload":\{"delay":1\},"responseTimeoutInSeconds":10,"connectTimeoutInSeconds":0\}/],
 [expect => method_req('reboot', '{"delay":1}')],
 [send => sub {
     mqtt_publish(topic => "\$iothub/methods/res/201/?\$rid=$main::RID", payload => '{"ok":true}');
 }],
 [request => "GET /jobs/v2/m1?$V", 200, qr/"status":"completed".*"deviceCount":2,"failedCount":1,"succeededCount":1/, 10],
 [redis => 'HGET iothub:test:{d1}:jobs m1', qr/"status":"completed".*"outcome":\{"deviceMethodResponse":\{"status":201,"payload":\{"ok":true\}\}\}/],
 [redis => 'HGET iothub:test:{d2}:jobs m1', qr/"status":"failed".*"error":\{"code":"DeviceNotOnline","description":"the device is not connected"\}/],
 # the records are the rows of devices.jobs, in device id order
 [request => {method => 'POST', path => "/devices/query?$V", body => q({"query":"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'm1'"})}, 200,
  qr/^\[\{"deviceId":"d1","jobId":"m1","jobType":"scheduleDeviceMethod","status":"completed",.*"outcome":\{"deviceMethodResponse":\{"status":201,"payload":\{"ok":true\}\}\}\},\{"deviceId":"d2","jobId":"m1","jobType":"scheduleDeviceMethod","status":"failed",.*"error":\{"code":"DeviceNotOnline",[^\]]*\}\]$/],
 [request => {method => 'POST', path => "/devices/query?$V", body => q({"query":"SELECT * FROM devices.jobs WHERE status = 'failed'"})}, 200,
  qr/^\[\{"deviceId":"d2","jobId":"m1",[^\]]*\]$/],
 [perl => sub {   # pages of one row: d1, then d2 from the continuation
     my (undef, $t) = @_;
     my $body = '{"query":"SELECT * FROM devices.jobs"}';
     my @h = ([Host => 'localhost'], [Connection => 'close'],
              [Authorization => main::sas_token()],
              ['Content-Type' => 'application/json'],
              ['Content-Length' => length $body], ['x-ms-max-item-count' => 1]);
     my $r = http_request('POST', "/devices/query?$V", \@h, $body);
     like($r->{body}, qr/^\[\{"deviceId":"d1","jobId":"m1"/, "$t: page 1");
     is($r->{headers}{'x-ms-item-type'}[0], 'DeviceJob', "$t: item type");
     my $token = $r->{headers}{'x-ms-continuation'}[0];
     ok(defined $token, "$t: continuation");
     $r = http_request('POST', "/devices/query?$V",
                       [@h, ['x-ms-continuation' => $token // '']], $body);
     like($r->{body}, qr/^\[\{"deviceId":"d2","jobId":"m1"[^\]]*\]$/, "$t: page 2");
     ok(!exists $r->{headers}{'x-ms-continuation'}, "$t: the last page");
 }]]
--- no_error_log
[error]


=== TEST 4: a job that starts in an hour stays queued; cancel ends it (cancelled, endTime); cancelling again changes nothing; the twin is untouched
--- main_config eval: $main::FAST
--- request eval
[put_device('d1'),
 twin_job('later', "deviceId = 'd1'", {tags => {a => 1}}, start => iso_in(3600)),
 "SLEEP 1",
 "GET /jobs/v2/later?$V",
 {method => 'POST', path => "/jobs/v2/later/cancel?$V"},
 {method => 'POST', path => "/jobs/v2/later/cancel?$V"},
 "GET /twins/d1?$V"]
--- response_body_like eval
[qr/^\{"deviceId":"d1"/,
 qr/"status":"queued"/,
 qr/"endTime":null,"maxExecutionTimeInSeconds":60,"status":"queued"/,
 qr/"endTime":"20[^"]+Z","maxExecutionTimeInSeconds":60,"status":"cancelled"/,
 qr/"status":"cancelled"/,
 qr/"tags":\{\}/]
--- redis_check
ZCARD iothub:test:jobs:run => 0
EXISTS iothub:test:{d1}:jobs => 0
--- no_error_log
[error]


=== TEST 5: errors: 404 JobNotFound, 409 JobAlreadyExists, 400 for bodies and conditions, 401 without a token or without service_connect (registry rights do not do)
--- main_config eval: $main::FAST
--- request eval
["GET /jobs/v2/none?$V",
 {method => 'POST', path => "/jobs/v2/none/cancel?$V"},
 twin_job('dup', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 twin_job('dup', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 {method => 'PUT', path => "/jobs/v2/b1?$V", body => '{"jobId":"b1",'},
 {method => 'PUT', path => "/jobs/v2/b2?$V", body => '{"jobId":"b2","type":"export","queryCondition":"deviceId = \'x\'"}'},
 {method => 'PUT', path => "/jobs/v2/b3?$V", body => '{"jobId":"b3","type":"scheduleUpdateTwin","updateTwin":{}}'},
 {method => 'PUT', path => "/jobs/v2/b4?$V", body => '{"jobId":"b4","type":"scheduleUpdateTwin","queryCondition":"deviceId = = 1","updateTwin":{}}'},
 {method => 'PUT', path => "/jobs/v2/b5?$V", body => '{"jobId":"other","type":"scheduleUpdateTwin","queryCondition":"deviceId = \'x\'","updateTwin":{}}'},
 {method => 'PUT', path => "/jobs/v2/b6?$V", body => '{"jobId":"b6","type":"scheduleDeviceMethod","queryCondition":"deviceId = \'x\'","cloudToDeviceMethod":{"responseTimeoutInSeconds":5}}'},
 {method => 'PUT', path => "/jobs/v2/b7?$V", body => '{"jobId":"b7","type":"scheduleUpdateTwin","queryCondition":"deviceId = \'x\'","updateTwin":{},"startTime":"tomorrow"}'},
 {method => 'GET', path => "/jobs/v2/dup?$V", auth => 'none'},
 {method => 'GET', path => "/jobs/v2/dup?$V", auth => 'registryRead'},
 {method => 'GET', path => "/jobs/v2/dup?$V", auth => 'registryReadWrite'},
 {method => 'GET', path => "/jobs/v2/dup?$V", auth => 'service'}]
--- error_code eval
[404, 404, 200, 409, 400, 400, 400, 400, 400, 400, 400, 401, 401, 401, 200]
--- response_body_like eval
[qr/^\{"Message":"ErrorCode:JobNotFound;Job none not found/,
 qr/^\{"Message":"ErrorCode:JobNotFound;/,
 qr/"status":"queued"/,
 qr/^\{"Message":"ErrorCode:JobAlreadyExists;Job dup already exists/,
 qr/^\{"Message":"ErrorCode:IotHubFormatError;/,
 qr/ErrorCode:ArgumentInvalid;type must be/,
 qr/ErrorCode:ArgumentInvalid;queryCondition must be/,
 qr/ErrorCode:ArgumentInvalid;queryCondition: /,
 qr/ErrorCode:ArgumentInvalid;jobId does not match/,
 qr/ErrorCode:ArgumentInvalid;cloudToDeviceMethod.methodName/,
 qr/ErrorCode:ArgumentInvalid;startTime must be/,
 qr/ErrorCode:IotHubUnauthorizedAccess/,
 qr/ErrorCode:IotHubUnauthorizedAccess/,
 qr/ErrorCode:IotHubUnauthorizedAccess/,
 qr/"jobId":"dup"/]


=== TEST 6: job_max_concurrent 1 (the default): a second unfinished job is 403003 JobQuotaExceeded; once the first is cancelled a new one is taken
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 200ms;')
--- request eval
[twin_job('q1', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 twin_job('q2', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 {method => 'POST', path => "/jobs/v2/q1/cancel?$V"},
 twin_job('q3', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600))]
--- error_code eval
[200, 403, 200, 200]
--- response_body_like eval
[qr/"status":"queued"/,
 qr/^\{"Message":"ErrorCode:JobQuotaExceeded;at most 1 jobs may be queued or running at once/,
 qr/"status":"cancelled"/,
 qr/"status":"queued"/]


=== TEST 7: GET /jobs/v2/query by type and status, in pages of x-ms-max-item-count with x-ms-continuation only while more follow
--- main_config eval: $main::FAST
--- request eval
[twin_job('t1', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 method_job('t2', "deviceId = 'x'", {methodName => 'm'}),
 twin_job('t3', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 twin_job('t4', "deviceId = 'x'", {tags => {a => 1}}, start => iso_in(3600)),
 "SLEEP 1",
 "GET /jobs/v2/query?$V&jobType=scheduleUpdateTwin",
 {method => 'GET', path => "/jobs/v2/query?$V&jobType=scheduleUpdateTwin&jobStatus=queued", headers => {'x-ms-max-item-count' => 2}},
 {method => 'GET', path => "/jobs/v2/query?$V&jobType=scheduleUpdateTwin&jobStatus=queued", headers => {'x-ms-max-item-count' => 2, 'x-ms-continuation' => 3}},
 "GET /jobs/v2/query?$V&jobType=scheduleDeviceMethod&jobStatus=completed",
 "GET /jobs/v2/query?$V&jobStatus=failed",
 {method => 'GET', path => "/jobs/v2/query?$V", headers => {'x-ms-max-item-count' => 'many'}}]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 400]
--- response_body_like eval
[qr/"jobId":"t1"/, qr/"jobId":"t2"/, qr/"jobId":"t3"/, qr/"jobId":"t4"/,
 qr/^\[\{"jobId":"t1".*\},\{"jobId":"t3".*\},\{"jobId":"t4".*\}\]$/,
 qr/^\[\{"jobId":"t1".*\},\{"jobId":"t3".*\}\]$/,
 qr/^\[\{"jobId":"t4".*\}\]$/,
 qr/^\[\{"jobId":"t2","type":"scheduleDeviceMethod".*"status":"completed".*"deviceCount":0.*\}\]$/,
 qr/^\[\]$/,
 qr/ArgumentInvalid/]
--- response_headers eval
[{}, {}, {}, {}, {'x-ms-item-type' => 'JobResponse', '!x-ms-continuation' => ''},
 {'x-ms-item-type' => 'JobResponse', 'x-ms-continuation' => 3},
 {'!x-ms-continuation' => ''}, {}, {}, {}]


=== TEST 8: two nodes on one Redis, two workers each: a job over 30 devices runs once (every twin patched once: desired $version 2), in flights of 3
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 100ms;', hub_extra => 'job_max_in_flight 3;')
--- workers: 2
--- nodes: 2
--- request eval
[(map { put_device("n$_") } 10 .. 39),
 twin_job('once', "status = 'enabled' AND IS_DEFINED(deviceId)", {properties => {desired => {v => 1}}}),
 "SLEEP 3",
 "GET /jobs/v2/once?$V",
 (map { "GET /twins/n$_?$V" } 10 .. 39)]
--- response_body_like eval
[(map { qr/^\{"deviceId":"n\d+"/ } 10 .. 39),
 qr/"status":"queued"/,
 qr/"status":"completed".*"deviceCount":30,"failedCount":0,"succeededCount":30/,
 (map { qr/"desired":\{"v":1,"\$metadata":.*"\$version":2\}/ } 10 .. 39)]
--- redis_check
HEXISTS iothub:test:{n10}:jobs once => 1
HEXISTS iothub:test:{n39}:jobs once => 1


=== TEST 8b: a condition over 250 devices runs in chunks of 100 through the query service; the cursor moves chunk by chunk
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 100ms;', hub_extra => 'job_max_in_flight 20;')
--- request eval
[(map { put_device(sprintf 'c%03d', $_) } 1 .. 250),
 {method => 'PATCH', path => "/twins/c007?$V", body => '{"tags":{"skip":true}}'},
 twin_job('many', "status = 'enabled' AND NOT IS_DEFINED(tags.skip)", {tags => {batch => 7}}),
 "SLEEP 4",
 "GET /jobs/v2/many?$V",
 "GET /twins/c001?$V", "GET /twins/c007?$V", "GET /twins/c250?$V"]
--- response_body_like eval
[(map { qr/^\{"deviceId":"c\d+"/ } 1 .. 251),
 qr/"status":"queued"/,
 qr/"status":"completed".*"deviceCount":249,"failedCount":0,"succeededCount":249/,
 qr/"tags":\{"batch":7\}/, qr/"tags":\{"skip":true\}/, qr/"tags":\{"batch":7\}/]
--- redis_check
HGET iothub:test:job:many cursor => c250
EXISTS iothub:test:{c007}:jobs => 0
--- no_error_log
[error]


=== TEST 9: a job left running by a node that died: once its lease ends another worker takes it and goes on after the persisted cursor
--- main_config eval: $main::FAST
--- redis eval
my $now = int(Time::HiRes::time() * 1000);
[[qw(HSET iothub:test:job:left jobId left type scheduleUpdateTwin),
  queryCondition => "deviceId IN ['d1','d2','d3','d4']", spec => '{"tags":{"t":1}}',
  status => 'running', createdTime => '2026-01-01T00:00:00.000Z',
  startTime => '2026-01-01T00:00:00.000Z', maxExecutionTimeInSeconds => 600,
  startMs => $now, deadlineMs => $now + 600000, deviceCount => 2,
  failedCount => 0, succeededCount => 2, cursor => 'd2',
  owner => 'iothub:inbox:00000000000000000000000000000000'],
 [qw(ZADD iothub:test:jobs 1 left)],
 [qw(ZADD iothub:test:jobs:run), $now + 1500, 'left']]
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3'), put_device('d4'),
 "GET /jobs/v2/left?$V",
 "SLEEP 2.5",
 "GET /jobs/v2/left?$V",
 "GET /twins/d2?$V",
 "GET /twins/d3?$V",
 "GET /twins/d4?$V"]
--- response_body_like eval
[qr/"d1"/, qr/"d2"/, qr/"d3"/, qr/"d4"/,
 qr/"status":"running".*"deviceCount":2,/,
 qr/"status":"completed".*"deviceCount":4,"failedCount":0,"succeededCount":4/,
 qr/"tags":\{\}/, qr/"tags":\{"t":1\}/, qr/"tags":\{"t":1\}/]
--- redis_check
EXISTS iothub:test:{d1}:jobs => 0
EXISTS iothub:test:{d2}:jobs => 0
HEXISTS iothub:test:{d3}:jobs left => 1
--- error_log
iothub job "left" of hub "test": running from "d2"


=== TEST 10: maxExecutionTimeInSeconds: a method the device never answers keeps the job running until then; it ends failed with the reason
--- main_config eval: $main::FAST
--- request eval
[put_device('d1')]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('slow', "deviceId = 'd1'", {methodName => 'wait', responseTimeoutInSeconds => 60}, max => 2), 200],
 [expect => method_req('wait', 'null')],
 [request => "GET /jobs/v2/slow?$V", 200, qr/"status":"running"/],
 [request => "GET /jobs/v2/slow?$V", 200, qr/"endTime":"20[^"]+Z","maxExecutionTimeInSeconds":2,"status":"failed","failureReason":"the job did not end within maxExecutionTimeInSeconds"/, 5],
 [redis => 'ZCARD iothub:test:jobs:run', 0]]
--- no_error_log
[error]


=== TEST 11: the worker running a job is killed mid-job: the one nginx starts instead takes the job once the lease ends and finishes it
--- main_config eval: main::iothub_block(extra => "job_poll_interval 200ms;\n    job_lease 2s;")
--- config
location / { iothub_api test; }
location = /pid { return 200 $pid; }
--- request eval
[put_device('d1'), put_device('d2')]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('kill', "deviceId IN ['d1','d2']", {methodName => 'hang', responseTimeoutInSeconds => 3}), 200],
 [expect => method_req('hang', 'null')],
 [perl => sub {
     my (undef, $t) = @_;
     my $r = http_request('GET', '/pid', [['Host', 'localhost'], ['Connection', 'close']], undef, 2);
     ok($r->{body} =~ /^\d+$/ && kill('KILL', $r->{body}), "$t: worker $r->{body} killed");
 }],
 [closed => 2],
 [request => "GET /jobs/v2/kill?$V", 200, qr/"status":"completed".*"deviceCount":2,"failedCount":2,"succeededCount":0/, 15],
 [redis => 'HGET iothub:test:{d1}:jobs kill', qr/"status":"failed".*"error":\{"code":"(?:GatewayTimeout|DeviceNotOnline)"/]]
--- error_log eval
[qr/\[alert\] .*exited on signal 9/, qr/iothub job "kill" of hub "test": running from ""(?s:.*)iothub job "kill" of hub "test": running from ""/]


=== TEST 12: job directives out of range fail nginx -t naming the directive
--- main_config eval: main::iothub_block(extra => 'job_lease 500ms;')
--- must_die
--- error_log
"job_lease" directive value must be from 1s to 3600s


=== TEST 13: job_poll_interval out of range
--- main_config eval: main::iothub_block(extra => 'job_poll_interval 2h;')
--- must_die
--- error_log
"job_poll_interval" directive value must be from


=== TEST 14: job_max_concurrent 0
--- main_config eval: main::iothub_block(hub_extra => 'job_max_concurrent 0;')
--- must_die
--- error_log eval
[qr/value must be between 1 and 1000/, qr/\bjob_max_concurrent\b/]


=== TEST 15: job_max_in_flight at the iothub level
--- main_config eval: main::iothub_block(extra => 'job_max_in_flight 5;')
--- must_die
--- error_log
"job_max_in_flight" directive is not allowed here


=== TEST 16: a reload while a job runs: the old worker finishes its devices in flight, starts no more and hands the job over at once (not after job_lease)
--- main_config eval: main::iothub_block(extra => "job_poll_interval 200ms;", hub_extra => 'job_max_in_flight 1;')
--- request eval
[put_device('d1'), put_device('d2'), put_device('d3')]
--- mqtt eval
[[connect => 'd1'],
 [send => mqtt_subscribe(1, [$MET, 0])],
 [expect => mqtt_suback(1, 0)],
 [request => method_job('hup', "deviceId IN ['d1','d2','d3']", {methodName => 'slow', responseTimeoutInSeconds => 2}), 200],
 [expect => method_req('slow', 'null')],
 ['hup'],
 [request => "GET /jobs/v2/hup?$V", 200, qr/"status":"completed".*"deviceCount":3,"failedCount":3,"succeededCount":0/, 10],
 [redis => 'HGET iothub:test:{d1}:jobs hup', qr/"error":\{"code":"(?:GatewayTimeout|DeviceNotOnline)"/]]
--- error_log eval
[qr/iothub job "hup": run stopped here: the worker is stopping/,
 qr/iothub job "hup" of hub "test": running from ""(?s:.*)iothub job "hup" of hub "test": running from ""/]
