# Jobs v2 history (reference/rest.md 10: IoT Hub keeps finished jobs 30
# days): a job that ended (completed, failed, cancelled) more than the
# hub's job_history ago is deleted by the janitor, with its per-device
# records (the rows of devices.jobs) and its index entries, a bounded
# number of deletions per job_trim.lua call; GET of a trimmed job is 404
# as for an unknown one.

use lib 't/lib';
use Test::IotHub;
use JSON::PP ();
use Time::HiRes ();

require_modules(qw(core http));

our $V = 'api-version=2021-04-12';
our $P = 'iothub:test:';

sub twin_job {
    my ($id, $cond, $patch, %o) = @_;
    my $j = {jobId => $id, type => 'scheduleUpdateTwin', queryCondition => $cond,
             updateTwin => $patch, maxExecutionTimeInSeconds => 60,
             startTime => $o{start}};
    return {method => 'PUT', path => "/jobs/v2/$id?$V",
            body => JSON::PP->new->canonical->encode($j)};
}

sub iso_in {
    my @t = gmtime(time + shift);
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02d.000Z', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
}

# A finished job written into Redis as the runner leaves one, ended $age
# seconds ago, with a record in each of @devices.
sub finished_job {
    my ($id, $age, @devices) = @_;
    my $ms = int(Time::HiRes::time() * 1000) - $age * 1000;
    my @cmds = ([HSET => "${P}job:$id", jobId => $id, type => 'scheduleUpdateTwin',
                 queryCondition => "status = 'enabled'", spec => '{"tags":{"a":1}}',
                 status => 'completed', createdTime => '2026-01-01T00:00:00.000Z',
                 startTime => '2026-01-01T00:00:00.000Z',
                 endTime => '2026-01-01T00:00:01.000Z',
                 maxExecutionTimeInSeconds => 60, startMs => $ms, deadlineMs => $ms,
                 deviceCount => scalar @devices, counted => 1, failedCount => 0,
                 succeededCount => scalar @devices, cursor => ''],
                [ZADD => "${P}jobs", $ms, $id],
                [ZADD => "${P}jobs:ended", $ms, $id]);
    push @cmds, [SADD => "${P}jobdevices:$id", @devices] if @devices;
    push @cmds, map { [HSET => "${P}{$_}:jobs", $id, qq({"deviceId":"$_","jobId":"$id"})] } @devices;
    return @cmds;
}

our @MANY = map { sprintf 'm%04d', $_ } 1 .. 1200;

sub trim_script {
    open my $f, '<', 'shared/lua/job_trim.lua' or die "job_trim.lua: $!\n";
    local $/;
    return scalar <$f>;
}

run_tests();

__DATA__

=== TEST 1: job_history 2s: a completed and a cancelled job are trimmed with their device records and index entries (404 JobNotFound, gone from the job query and devices.jobs); an unfinished job stays; the id can be used again
--- main_config eval: main::iothub_block(extra => "job_poll_interval 200ms;\n    janitor_interval 1s;", hub_extra => "job_history 2s;\n        job_max_concurrent 5;")
--- request eval
[put_device('d1'), put_device('d2')]
--- mqtt eval
[[request => twin_job('j1', "deviceId IN ['d1', 'd2']", {tags => {a => 1}}), 200],
 [request => "GET /jobs/v2/j1?$V", 200, qr/"status":"completed"/, 5],
 [redis => "SCARD ${P}jobdevices:j1", 2],
 [redis => "SISMEMBER ${P}jobdevices:j1 d2", 1],
 [redis => "HEXISTS ${P}{d1}:jobs j1", 1],
 [redis => "ZSCORE ${P}jobs:ended j1", qr/^\d{13}$/],
 [request => twin_job('cx', "deviceId = 'd1'", {tags => {b => 1}}, start => main::iso_in(3600)), 200],
 [request => {method => 'POST', path => "/jobs/v2/cx/cancel?$V"}, 200, qr/"status":"cancelled"/],
 [redis => "ZSCORE ${P}jobs:ended cx", qr/^\d{13}$/],
 [request => twin_job('later', "deviceId = 'd2'", {tags => {c => 1}}, start => main::iso_in(3600)), 200],
 [request => "GET /jobs/v2/j1?$V", 404, qr/^\{"Message":"ErrorCode:JobNotFound;/, 8],
 [request => "GET /jobs/v2/cx?$V", 404, qr/JobNotFound/, 3],
 [redis => "EXISTS ${P}job:j1 ${P}job:cx ${P}jobdevices:j1 ${P}{d1}:jobs ${P}{d2}:jobs", 0],
 [redis => "ZRANGE ${P}jobs 0 -1", ['later']],
 [redis => "ZCARD ${P}jobs:ended", 0],
 [request => "GET /jobs/v2/query?$V", 200, qr/^\[\{"jobId":"later".*"status":"queued".*\}\]$/],
 [request => {method => 'POST', path => "/devices/query?$V", body => '{"query":"SELECT * FROM devices.jobs"}'}, 200, '[]'],
 [request => "GET /jobs/v2/later?$V", 200, qr/"status":"queued"/],
 [request => twin_job('j1', "deviceId = 'd1'", {tags => {a => 2}}, start => main::iso_in(3600)), 200, qr/"jobId":"j1".*"status":"queued"/]]
--- no_error_log
[error]


=== TEST 2: the default history is 30 days: a job that ended 31 days ago goes, one that ended 29 days ago stays; another job's records on the same devices stay
--- main_config eval: main::iothub_block(extra => 'janitor_interval 1s;')
--- redis eval
[main::finished_job('old', 31 * 86400, 'd1', 'd2'),
 main::finished_job('recent', 29 * 86400, 'd1')]
--- request eval
["GET /jobs/v2/old?$V", "GET /jobs/v2/recent?$V", "SLEEP 2.5",
 "GET /jobs/v2/old?$V", "GET /jobs/v2/recent?$V"]
--- error_code eval
[200, 200, 404, 200]
--- redis_check
HKEYS iothub:test:{d1}:jobs => [recent]
EXISTS iothub:test:{d2}:jobs => 0
SMEMBERS iothub:test:jobdevices:recent => [d1]
ZRANGE iothub:test:jobs 0 -1 => [recent]
ZRANGE iothub:test:jobs:ended 0 -1 => [recent]
--- no_error_log
[error]


=== TEST 3: one job_trim.lua call deletes at most the deletions it is given (device records, then the job): a job of 1200 devices takes three calls of 500
--- main_config eval: main::iothub_block(extra => 'janitor_interval 1d;')
--- redis eval
[main::finished_job('big', 40 * 86400, @main::MANY)]
--- mqtt eval
my @call = ('EVAL', main::trim_script(), 3, 'iothub:janitor', "${P}jobs", "${P}jobs:ended",
            'me', 60000, $P, int(Time::HiRes::time() * 1000) - 86400000, 500);
[[redis => [@call], 0],
 [redis => "SCARD ${P}jobdevices:big", 700],
 [redis => "EXISTS ${P}job:big", 1],
 [redis => [@call], 0],
 [redis => "SCARD ${P}jobdevices:big", 200],
 [redis => [@call], 1],
 [redis => "EXISTS ${P}job:big ${P}jobdevices:big ${P}{m0001}:jobs ${P}{m1200}:jobs", 0],
 [redis => "ZCARD ${P}jobs", 0],
 # another worker's round holds the lock
 [perl => sub {
     my $r = main::redis_cmd(@call[0 .. 5], 'other', @call[7 .. 10]);
     ok(Test::IotHub::Redis::is_error($r) && $$r =~ /LOCK_LOST/,
        "$_[1]: LOCK_LOST");
 }]]


=== TEST 4: the janitor trims a job of 1200 devices in several steps of one round
--- main_config eval: main::iothub_block(extra => 'janitor_interval 1s;')
--- redis eval
[main::finished_job('big', 40 * 86400, @main::MANY)]
--- request eval
["GET /jobs/v2/big?$V", "SLEEP 2.5", "GET /jobs/v2/big?$V"]
--- error_code eval
[200, 404]
--- redis_check
EXISTS iothub:test:jobdevices:big => 0
EXISTS iothub:test:{m0001}:jobs => 0
EXISTS iothub:test:{m0600}:jobs => 0
EXISTS iothub:test:{m1200}:jobs => 0
--- no_error_log
[error]


=== TEST 5: job_history out of range fails nginx -t naming the directive
--- main_config eval: main::iothub_block(hub_extra => 'job_history 0s;')
--- must_die
--- error_log
"job_history" of hub "test" must be from 1s to 365d


=== TEST 6: job_history that is not a time
--- main_config eval: main::iothub_block(hub_extra => 'job_history forever;')
--- must_die
--- error_log eval
qr/"job_history" directive invalid value/


=== TEST 7: job_history at the iothub level
--- main_config eval: main::iothub_block(extra => 'job_history 1d;')
--- must_die
--- error_log
"job_history" directive is not allowed here


=== TEST 8: job_history over a year
--- main_config eval: main::iothub_block(hub_extra => 'job_history 400d;')
--- must_die
--- error_log
"job_history" of hub "test" must be from 1s to 365d
