# Import/export jobs (reference/rest.md 11): POST /jobs/create, GET /jobs,
# GET and DELETE /jobs/{id}.  Exports write the identities (devices, each
# followed by its modules) with their twins as JSON lines into a blob of
# the hub's own blob store (iothub_blob_store), imports read one, apply
# identities and twins, and write importErrors.log; the container URI's
# SAS is checked as the store checks it.  One job at a time; job state
# lives in Redis.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::SAS qw(auth_header);
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256_base64);
use POSIX qw(strftime);
use File::Temp ();

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $ACCOUNT_KEY = encode_base64('0123456789abcdef0123456789abcdef', '');
our $MAIN = iothub_block(hub_extra =>
    "storage_connection_string \"DefaultEndpointsProtocol=https;"
    . "AccountName=acct;AccountKey=$ACCOUNT_KEY;"
    . "BlobEndpoint=https://localhost/acct\"; storage_container uploads;");
our $STORE = "location / { iothub_api test; }\n"
           . "location /acct/ { iothub_blob_store test \$TEST_PREFIX/blobs; }";
our $DEVICE_KEY = $Test::IotHub::SAS::DEVICE_KEY;

# a store whose files the takeover tests write as a runner leaves them
our $DIR = File::Temp::tempdir(CLEANUP => 1);
our $OWN_STORE = "location / { iothub_api test; }\n"
               . "location /acct/ { iothub_blob_store test $DIR/blobs; }\n"
               . "location = /pid { return 200 \$pid; }";
our $OLD_RUNNER = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

# the hash of an import job left running by a runner that stopped
sub orphan_import {
    my ($id, $checkpoint, @more) = @_;
    return (['HSET', "iothub:test:bulkjob:$id", type => 'import',
             status => 'running', progress => 50,
             startTimeUtc => '2026-01-01T00:00:00Z',
             inputBlobContainerUri => container_uri('input'),
             outputBlobContainerUri => container_uri('output'),
             excludeKeysInExport => 'false', inputBlobName => 'devices.txt',
             outputBlobName => 'devices.txt', runner => $OLD_RUNNER,
             checkpoint => $checkpoint, @more],
            ['ZADD', 'iothub:test:bulkjobs', 1, $id]);
}

# A container SAS (sr=c, the 2019-02-02 string to sign) of this account
sub csas {
    my %a = (sp => 'rwl', se => time + 3600, container => 'jobs',
             key => $ACCOUNT_KEY, @_);
    my $se = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $a{se});
    my $sts = join "\n", $a{sp}, '', $se, "/blob/acct/$a{container}",
                         '', '', '', '2019-02-02', 'c', '', '', '', '', '',
                         '';
    my $sig = hmac_sha256_base64($sts, decode_base64($a{key})) . '=';
    $sig =~ s/([+\/=])/sprintf '%%%02X', ord $1/ge;
    (my $e = $se) =~ s/:/%3A/g;
    return "?sv=2019-02-02&sr=c&sig=$sig&se=$e&sp=$a{sp}";
}

sub container_uri {
    my ($container, %a) = @_;
    return "https://localhost/acct/$container" . csas(container => $container,
                                                       %a);
}

# svc(method, path, body, policy): a service request, JSON decoded
sub svc {
    my ($method, $path, $body, $policy) = @_;
    my $r = http_request($method, $path,
                         [[Host => 'localhost'], [Connection => 'close'],
                          [Authorization => auth_header($policy
                                                        // 'iothubowner')],
                          ['Content-Type' => 'application/json'],
                          ['Content-Length' => length($body // '')]], $body);
    $r->{json} = eval { decode_json($r->{body}) };
    return $r;
}

sub create_job {
    my ($job, $policy) = @_;
    return svc('POST', "/jobs/create?$V", encode_json($job), $policy);
}

# wait_job(id): the job once it ended (or after 10 s)
sub wait_job {
    my $id = shift // "none";
    my $r;
    for (1 .. 100) {
        $r = svc('GET', "/jobs/$id?$V");
        last if $r->{json} && $r->{json}{status} !~ /^(enqueued|running)$/;
        select undef, undef, undef, 0.1;
    }
    return $r->{json};
}

# the store's blob, read with the container's SAS
sub get_blob {
    my ($container, $blob) = @_;
    return http_request('GET', "/acct/$container/$blob"
                               . csas(container => $container, sp => 'r'),
                        [[Host => 'localhost'], [Connection => 'close'],
                         ['x-ms-version' => '2020-10-02']]);
}

sub put_blob {
    my ($container, $blob, $body) = @_;
    my $r = http_request('PUT', "/acct/$container/$blob"
                                . csas(container => $container, sp => 'w'),
                         [[Host => 'localhost'], [Connection => 'close'],
                          ['x-ms-version' => '2020-10-02'],
                          ['x-ms-blob-type' => 'BlockBlob'],
                          ['Content-Length' => length $body]], $body);
    is($r->{status}, 201, "Put Blob $blob") or diag($r->{body});
}

sub lines { map { decode_json($_) } grep { length } split /\n/, shift }

run_tests();

__DATA__

=== TEST 1: export three devices with their keys to devices.txt, then without keys to another blob
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_device('dev2', status => 'disabled'),
 put_device('dev3')]
--- error_code: 200
--- mqtt eval
[[perl => sub {
    my $r = create_job({type => 'export', excludeKeysInExport => JSON::PP::false,
                        outputBlobContainerUri => container_uri('jobs')});
    is($r->{status}, 200, 'create: 200') or diag($r->{body});
    my $job = $r->{json};
    like($job->{jobId}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/, 'jobId');
    is($job->{type}, 'export', 'type');
    like($job->{status}, qr/^(enqueued|running)$/, 'status at first');
    like($job->{startTimeUtc}, qr/^\d{4}-\d\d-\d\dT/, 'startTimeUtc');
    $job = wait_job($job->{jobId});
    is($job->{status}, 'completed', 'completed') or diag(explain($job));
    is($job->{progress}, 100, 'progress 100');
    ok($job->{endTimeUtc}, 'endTimeUtc');
    $r = get_blob('jobs', 'devices.txt');
    is($r->{status}, 200, 'devices.txt is there');
    my @l = lines($r->{body});
    is_deeply([map { $_->{id} } @l], [qw(dev1 dev2 dev3)], 'three lines');
    is($l[0]{authentication}{symmetricKey}{primaryKey}, $DEVICE_KEY,
       'the primary key');
    is($l[1]{status}, 'disabled', 'status');
    is($l[0]{authentication}{type}, 'sas', 'authentication type');
    ok($l[0]{eTag}, 'eTag');

    $r = create_job({type => 'export', excludeKeysInExport => JSON::PP::true,
                     outputBlobName => 'sub/nokeys.txt',
                     outputBlobContainerUri => container_uri('jobs')});
    is($r->{status}, 200, 'second export after the first ended');
    $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'completed');
    ok($job->{excludeKeysInExport}, 'excludeKeysInExport');
    @l = lines(get_blob('jobs', 'sub/nokeys.txt')->{body});
    is(scalar @l, 3, 'three lines');
    is($l[0]{authentication}{symmetricKey}{primaryKey}, undef, 'no key');
    is($l[0]{authentication}{symmetricKey}{secondaryKey}, undef,
       'no secondary key');
    is(redis_cmd('EXISTS', 'iothub:test:bulkjob:lease'), 0, 'lease given up');
 }]]



=== TEST 2: import: create, update (the default mode), delete, errors into importErrors.log
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_device('dev2'), put_device('dev3')]
--- error_code: 200
--- mqtt eval
[[perl => sub {
    put_blob('input', 'devices.txt', join "\n",
        '{"id":"new1","importMode":"create","authentication":{"type":"sas",'
        . '"symmetricKey":{"primaryKey":"' . $DEVICE_KEY . '",'
        . '"secondaryKey":"' . $DEVICE_KEY . '"}}}',
        '{"id":"dev1","status":"disabled","statusReason":"imported"}',
        '{"id":"dev2","importMode":"Delete"}',
        'not json',
        '',
        '{"id":"dev3","importMode":"create"}',
        '{"id":"gone","importMode":"delete"}');
    my $r = create_job({type => 'import',
                        inputBlobContainerUri => container_uri('input'),
                        outputBlobContainerUri => container_uri('output')});
    is($r->{status}, 200, 'create: 200') or diag($r->{body});
    is($r->{json}{type}, 'import', 'type');
    my $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'completed') or diag(explain($job));
    is(svc('GET', "/devices/new1?$V")->{json}{authentication}{symmetricKey}
       {primaryKey}, $DEVICE_KEY, 'new1 created with its key');
    is(svc('GET', "/devices/dev1?$V")->{json}{status}, 'disabled',
       'dev1 updated');
    is(svc('GET', "/devices/dev2?$V")->{status}, 404, 'dev2 deleted');
    my @e = lines(get_blob('output', 'importErrors.log')->{body});
    is(scalar @e, 3, 'three errors') or diag(explain(\@e));
    is($e[0]{line}, 4, 'the bad line');
    is($e[0]{errorCode}, 'ArgumentInvalid', 'its code');
    is_deeply([@{$e[1]}{qw(line deviceId operation errorCode)}],
              [6, 'dev3', 'create', 'DeviceAlreadyExists'], 'existing');
    is_deeply([@{$e[2]}{qw(line deviceId operation errorCode)}],
              [7, 'gone', 'delete', 'DeviceNotFound'], 'not there');
 }]]



=== TEST 3: a bad SAS, an expired one, a read-only one, another store, no input blob: the job fails with its reason; a URI that is none is 400
--- main_config eval
$MAIN
--- config eval
$STORE
--- mqtt eval
[[perl => sub {
    my $blob = test_prefix() . '/blobs/jobs/devices.txt';   # TEST 1's
    unlink($blob);
    my @cases = (
        [{type => 'export', outputBlobContainerUri =>
              container_uri('jobs', key => encode_base64('x' x 32, ''))},
         qr/SAS does not allow writing/, 'forged SAS'],
        [{type => 'export', outputBlobContainerUri =>
              container_uri('jobs', se => time - 10)},
         qr/SAS does not allow writing/, 'expired SAS'],
        [{type => 'export', outputBlobContainerUri =>
              container_uri('jobs', sp => 'r')},
         qr/SAS does not allow writing/, 'read-only SAS'],
        [{type => 'export', outputBlobContainerUri =>
              'https://acct.blob.core.windows.net/jobs?sv=x'},
         qr/not in the hub's blob store/, 'another store'],
        [{type => 'import', inputBlobContainerUri => container_uri('none'),
          outputBlobContainerUri => container_uri('output')},
         qr/input blob does not exist/, 'no input blob'],
    );
    for my $c (@cases) {
        my $r = create_job($c->[0]);
        is($r->{status}, 200, "$c->[2]: created") or diag($r->{body});
        my $job = wait_job($r->{json}{jobId});
        is($job->{status}, 'failed', "$c->[2]: failed");
        like($job->{failureReason}, $c->[1], "$c->[2]: failureReason");
    }
    ok(!-e $blob, 'nothing written');
    my $r = create_job({type => 'export',
                        outputBlobContainerUri => 'ftp://localhost/acct/x'});
    is($r->{status}, 400, 'not https: 400');
    like($r->{body}, qr/ErrorCode:ArgumentInvalid;/, 'ArgumentInvalid');
    $r = create_job({type => 'export'});
    is($r->{status}, 400, 'no output URI: 400');
    $r = create_job({type => 'copy', outputBlobContainerUri => 'https://x/y'});
    is($r->{status}, 400, 'unknown type: 400');
    $r = create_job({type => 'export', storageAuthenticationType =>
                     'identityBased', outputBlobContainerUri =>
                     container_uri('jobs')});
    is($r->{status}, 400, 'identityBased: 400');
    $r = create_job({type => 'export',
                     outputBlobContainerUri => 'https://localhost/acct/A_B'});
    is($r->{status}, 400, 'a bad container name: 400');
 }]]



=== TEST 4: one job at a time: 403 JobQuotaExceeded while a job holds the lease
--- main_config eval
$MAIN
--- config eval
$STORE
--- redis
SET iothub:test:bulkjob:lease other-job
HSET iothub:test:bulkjob:other-job type export status running progress 10 startTimeUtc 2024-01-01T00:00:00Z outputBlobContainerUri https://x excludeKeysInExport false outputBlobName devices.txt
ZADD iothub:test:bulkjobs 1 other-job
HSET iothub:test:bulkjob:done type import status completed progress 100 startTimeUtc 2024-01-01T00:00:00Z
ZADD iothub:test:bulkjobs 0 done
--- mqtt eval
[[perl => sub {
    my $r = create_job({type => 'export',
                        outputBlobContainerUri => container_uri('jobs')});
    is($r->{status}, 403, 'second job: 403');
    like($r->{body}, qr/ErrorCode:JobQuotaExceeded;/, 'JobQuotaExceeded');
    $r = svc('GET', "/jobs/other-job?$V");
    is($r->{json}{status}, 'running', 'the lease holder runs');
    is($r->{json}{progress}, 10, 'its progress');
    $r = svc('GET', "/jobs?$V");
    is($r->{status}, 200, 'list: 200');
    is_deeply([map { $_->{jobId} } @{$r->{json}}], [qw(other-job done)],
              'newest first');
 }]]



=== TEST 5: cancel: DELETE /jobs/{id} ends a running job and gives up its lease; unknown ids are 404 JobNotFound; /jobs/v2 is not ours
--- main_config eval
$MAIN
--- config eval
$STORE
--- redis
SET iothub:test:bulkjob:lease j1
HSET iothub:test:bulkjob:j1 type export status running progress 10 startTimeUtc 2024-01-01T00:00:00Z
ZADD iothub:test:bulkjobs 1 j1
--- request eval
[{method => 'DELETE', path => "/jobs/j1?api-version=2021-04-12"},
 "GET /jobs/j1?api-version=2021-04-12",
 {method => 'DELETE', path => "/jobs/nosuchjob?api-version=2021-04-12"},
 "GET /jobs/nosuchjob?api-version=2021-04-12",
 "GET /jobs/a%2Fb?api-version=2021-04-12",
 "GET /jobs/v2/j1/extra/more?api-version=2021-04-12",
 "GET /jobs/v2?api-version=2021-04-12",
 "PUT /jobs/j1?api-version=2021-04-12"]
--- error_code eval
[200, 200, 404, 404, 404, 404, 404, 405]
--- response_body_like eval
[qr/"jobId":"j1","type":"export","status":"cancelled","progress":10,.*"endTimeUtc"/,
 qr/"status":"cancelled"/,
 qr/ErrorCode:JobNotFound;/, qr/ErrorCode:JobNotFound;/, qr/ErrorCode:/,
 qr/ErrorCode:IotHubNotFound;/, qr/ErrorCode:IotHubNotFound;/,
 qr/ErrorCode:MethodNotAllowed;/]
--- redis_check
EXISTS iothub:test:bulkjob:lease => 0



=== TEST 6: rights: export needs registry_read, import registry_write, cancel registry_write; service_connect has none
--- main_config eval
$MAIN
--- config eval
$STORE
--- mqtt eval
[[perl => sub {
    my $r = create_job({type => 'import',
                        inputBlobContainerUri => container_uri('input'),
                        outputBlobContainerUri => container_uri('output')},
                       'registryRead');
    is($r->{status}, 401, 'import with registry_read: 401');
    like($r->{body}, qr/ErrorCode:IotHubUnauthorizedAccess;/, 'its code');
    $r = create_job({type => 'export',
                     outputBlobContainerUri => container_uri('jobs')},
                    'service');
    is($r->{status}, 401, 'export with service_connect: 401');
    $r = create_job({type => 'export',
                     outputBlobContainerUri => container_uri('jobs')},
                    'registryRead');
    is($r->{status}, 200, 'export with registry_read: 200');
    my $id = $r->{json}{jobId};
    is(wait_job($id)->{status}, 'completed', 'it completes');
    is(svc('GET', "/jobs?$V", undef, 'registryRead')->{status}, 200,
       'list with registry_read');
    is(svc('DELETE', "/jobs/$id?$V", undef, 'registryRead')->{status}, 401,
       'cancel with registry_read: 401');
    is(svc('DELETE', "/jobs/$id?$V", undef, 'registryReadWrite')->{json}
       {status}, 'completed', 'cancel of an ended job leaves it');
    $r = create_job({type => 'import',
                     inputBlobContainerUri => container_uri('input'),
                     outputBlobContainerUri => container_uri('output')},
                    'registryReadWrite');
    is($r->{status}, 200, 'import with registry_write: 200');
    wait_job($r->{json}{jobId});
 }]]



=== TEST 7: 300 devices, three pages and a last empty one: export every line in id order; import deletes them all in chunks
--- main_config eval
$MAIN
--- config eval
$STORE
--- mqtt eval
[[perl => sub {
    my @ids = map { sprintf 'd%03d', $_ } 1 .. 300;
    for my $p (0 .. 2) {
        my $r = svc('POST', "/devices?$V", encode_json(
            [map { {id => $_, importMode => 'create'} }
             @ids[$p * 100 .. $p * 100 + 99]]));
        is($r->{status}, 200, "bulk create $p") or diag($r->{body});
    }
    my $r = create_job({type => 'export',
                        outputBlobContainerUri => container_uri('jobs')});
    my $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'export completed');
    my @l = lines(get_blob('jobs', 'devices.txt')->{body});
    is_deeply([map { $_->{id} } @l], \@ids, '300 lines in id order');
    ok(!(grep { !$_->{authentication}{symmetricKey}{primaryKey} } @l),
       'every line has its key');

    put_blob('input', 'devices.txt',
             join('', map { qq({"id":"$_","importMode":"delete"}\n) } @ids));
    $r = create_job({type => 'import',
                     inputBlobContainerUri => container_uri('input'),
                     outputBlobContainerUri => container_uri('output')});
    $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'import completed');
    is($job->{progress}, 100, 'progress 100');
    is(svc('GET', "/statistics/devices?$V")->{json}{totalDeviceCount}, 0,
       'every device deleted');
    is(get_blob('output', 'importErrors.log')->{body}, '', 'no errors');
 }]]



=== TEST 8: cancel a running import: its runner stops at its next step, the job stays cancelled, a new job may start
--- main_config eval
$MAIN
--- config eval
$STORE
--- mqtt eval
[[perl => sub {
    put_blob('input', 'devices.txt',
             join('', map { qq({"id":"c$_","importMode":"create"}\n) }
                      1 .. 20000));
    my $r = create_job({type => 'import',
                        inputBlobContainerUri => container_uri('input'),
                        outputBlobContainerUri => container_uri('output')});
    is($r->{status}, 200, 'import created');
    my $id = $r->{json}{jobId};
    select undef, undef, undef, 0.2;
    $r = svc('DELETE', "/jobs/$id?$V");
    is($r->{json}{status}, 'cancelled', 'cancelled while running');
    select undef, undef, undef, 1;
    is(wait_job($id)->{status}, 'cancelled', 'still cancelled');
    my $n = svc('GET', "/statistics/devices?$V")->{json}{totalDeviceCount};
    ok($n > 0 && $n < 20000, "stopped part-way ($n devices)");
    my $again = svc('GET', "/statistics/devices?$V")->{json}
                {totalDeviceCount};
    is($again, $n, 'nothing more imported');
    $r = create_job({type => 'export',
                     outputBlobContainerUri => container_uri('jobs')});
    is($r->{status}, 200, 'a new job may start');
    is(wait_job($r->{json}{jobId})->{status}, 'completed', 'and completes');
 }]]
--- error_log eval
qr/job "[0-9a-f-]+" stopped: cancelled/



=== TEST 9: export writes each twin (tags, desired and reported with $metadata and $version, twinETag) and the modules after their device; export, delete, import restores the identities, tags and desired
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_module('dev1', 'm1'), put_device('dev2')]
--- error_code eval
[200, 200, 200]
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ['$iothub/twin/res/#', 0])],
 [expect => mqtt_suback(1, 0)],
 [send => mqtt_publish(
     topic => '$iothub/twin/PATCH/properties/reported/?$rid=1',
     payload => '{"fw":"1.2"}')],
 [expect => mqtt_publish(topic => '$iothub/twin/res/204/?$rid=1&$version=2',
                         payload => '')],
 [close => 1],
 [perl => sub {
    my $r = svc('PATCH', "/twins/dev1?$V", encode_json(
        {tags => {site => 'lab', floor => 2},
         properties => {desired => {interval => 30}}}));
    is($r->{status}, 200, 'twin PATCH') or diag($r->{body});
    my $etag = $r->{json}{etag};
    $r = svc('PATCH', "/twins/dev1/modules/m1?$V",
             '{"tags":{"role":"edge"},"properties":{"desired":{"rate":6}}}');
    is($r->{status}, 200, 'module twin PATCH') or diag($r->{body});

    $r = create_job({type => 'export',
                     outputBlobContainerUri => container_uri('jobs')});
    my $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'export completed') or diag(explain($job));
    my $blob = get_blob('jobs', 'devices.txt')->{body};
    my @l = lines($blob);
    is_deeply([map { join '/', $_->{id}, $_->{moduleId} // '' } @l],
              ['dev1/', 'dev1/m1', 'dev2/'],
              'every device followed by its modules');
    is_deeply($l[0]{tags}, {site => 'lab', floor => 2}, 'tags');
    is($l[0]{properties}{desired}{interval}, 30, 'desired');
    is($l[0]{properties}{desired}{'$version'}, 2, 'desired $version');
    like($l[0]{properties}{desired}{'$metadata'}{interval}{'$lastUpdated'},
         qr/^20\d\d-/, 'desired $metadata');
    is($l[0]{properties}{reported}{fw}, '1.2', 'reported, from the device');
    is($l[0]{properties}{reported}{'$version'}, 2, 'reported $version');
    is($l[0]{twinETag}, $etag, "twinETag: the twin's ETag");
    is($l[0]{authentication}{symmetricKey}{primaryKey}, $DEVICE_KEY,
       'the device key');
    is_deeply($l[1]{tags}, {role => 'edge'}, 'module tags');
    is($l[1]{properties}{desired}{rate}, 6, 'module desired');
    ok($l[1]{authentication}{symmetricKey}{primaryKey}, 'module key');
    ok(!exists $l[1]{capabilities}, 'a module has no capabilities');
    is_deeply($l[2]{tags}, {}, 'an untouched twin: empty tags');
    is($l[2]{twinETag}, 'AAAAAAAAAAE=', 'its version 1');

    is(svc('DELETE', "/devices/dev1?$V")->{status}, 204, 'dev1 deleted');
    put_blob('input', 'devices.txt', $blob);
    $r = create_job({type => 'import',
                     inputBlobContainerUri => container_uri('input'),
                     outputBlobContainerUri => container_uri('output')});
    $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'import completed') or diag(explain($job));
    is(get_blob('output', 'importErrors.log')->{body}, '', 'no errors');
    $r = svc('GET', "/twins/dev1?$V");
    is($r->{status}, 200, 'dev1 is back');
    is_deeply($r->{json}{tags}, {site => 'lab', floor => 2}, 'its tags');
    is($r->{json}{properties}{desired}{interval}, 30, 'its desired');
    is(svc('GET', "/devices/dev1?$V")->{json}{authentication}{symmetricKey}
       {primaryKey}, $DEVICE_KEY, 'its key');
    $r = svc('GET', "/twins/dev1/modules/m1?$V");
    is($r->{status}, 200, 'its module is back ("update" creates it)');
    is_deeply($r->{json}{tags}, {role => 'edge'}, 'module tags');
    is($r->{json}{properties}{desired}{rate}, 6, 'module desired');
 }]]



=== TEST 10: import of twins: updateTwin, updateTwinIfMatchETag (twinETag), create with tags and desired, module twins; errors into importErrors.log
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_module('dev1', 'm1'), put_device('dev2')]
--- error_code eval
[200, 200, 200]
--- mqtt eval
[[perl => sub {
    put_blob('input', 'devices.txt', join "\n",
        '{"id":"dev1","importMode":"updateTwin","tags":{"a":1},'
        . '"properties":{"desired":{"d":1}}}',
        '{"id":"dev2","importMode":"UpdateTwinIfMatchETag",'
        . '"twinETag":"AAAAAAAAAAE=","tags":{"b":2}}',
        '{"id":"dev2","importMode":"updateTwinIfMatchETag",'
        . '"twinETag":"AAAAAAAAAAE=","tags":{"c":3}}',
        '{"id":"dev2","importMode":"updateTwinIfMatchETag","tags":{"c":3}}',
        '{"id":"nodev","importMode":"updateTwin","tags":{}}',
        '{"id":"new1","importMode":"create","tags":{"n":true},'
        . '"properties":{"desired":{"x":"y"}}}',
        '{"id":"dev1","moduleId":"m1","importMode":"updateTwin",'
        . '"properties":{"desired":{"rate":7}}}',
        '{"id":"dev1","importMode":"updateTwin","tags":{"bad.key":1}}',
        '{"id":"dev2","status":"disabled"}');
    my $r = create_job({type => 'import',
                        inputBlobContainerUri => container_uri('input'),
                        outputBlobContainerUri => container_uri('output')});
    my $job = wait_job($r->{json}{jobId});
    is($job->{status}, 'completed', 'completed') or diag(explain($job));

    $r = svc('GET', "/twins/dev1?$V")->{json};
    is_deeply($r->{tags}, {a => 1}, 'updateTwin: tags');
    is($r->{properties}{desired}{d}, 1, 'updateTwin: desired');
    $r = svc('GET', "/twins/dev2?$V")->{json};
    is_deeply($r->{tags}, {b => 2},
              'updateTwinIfMatchETag: applied once, then a mismatch');
    is($r->{status}, 'disabled', 'an identity line leaves the twin');
    $r = svc('GET', "/twins/new1?$V")->{json};
    is(encode_json($r->{tags}), '{"n":true}', 'create: tags');
    is($r->{properties}{desired}{x}, 'y', 'create: desired');
    is(svc('GET', "/twins/dev1/modules/m1?$V")->{json}{properties}{desired}
       {rate}, 7, 'a module twin');

    my @e = lines(get_blob('output', 'importErrors.log')->{body});
    is_deeply([map { [@$_{qw(line deviceId operation errorCode)}] } @e],
              [[3, 'dev2', 'updateTwinIfMatchETag', 'PreconditionFailed'],
               [4, 'dev2', 'updateTwinIfMatchETag', 'ArgumentInvalid'],
               [5, 'nodev', 'updateTwin', 'DeviceNotFound'],
               [8, 'dev1', 'updateTwin', 'ArgumentInvalid']],
              'the errors') or diag(explain(\@e));
    like($e[3]{errorStatus}, qr/bad\.key/, 'the twin engine\'s reason');
 }]]



=== TEST 11: an import whose runner stopped is taken over from its checkpoint: the lines before it are not applied again, its errors so far are kept (what was written after the checkpoint is cut), line numbers go on
--- main_config eval
$MAIN
--- config eval
$OWN_STORE
--- mqtt eval
[[perl => sub {
    my @in = map { qq({"id":"t$_","importMode":"create"}) } 1 .. 4;
    push @in, 'not json', '{"id":"t6","importMode":"create"}';
    put_blob('input', 'devices.txt', join "\n", @in);
    my $done = length join '', map { "$_\n" } @in[0 .. 2];
    my $kept = qq({"line":2,"deviceId":"t2","moduleId":null,)
               . qq("operation":"create","errorCode":"DeviceAlreadyExists",)
               . qq("errorStatus":"kept"}\n);
    mkdir "$main::DIR/blobs/.bulkjobs";
    open my $f, '>', "$main::DIR/blobs/.bulkjobs/tk1.$main::OLD_RUNNER.errors"
        or die $!;
    print $f $kept, "written after the checkpoint\n";
    close $f;
    redis_cmd(@$_) for main::orphan_import('tk1', "$main::OLD_RUNNER $done 3 "
                                           . length($kept) . ' 0 0 ');
    my $job = wait_job('tk1');
    is($job->{status}, 'completed', 'completed') or diag(explain($job));
    is($job->{progress}, 100, 'progress 100');
    is(svc('GET', "/devices/t$_?$V")->{status}, 404, "t$_ not imported again")
        for 1 .. 3;
    is(svc('GET', "/devices/t$_?$V")->{status}, 200, "t$_ imported")
        for 4, 6;
    my $errors = get_blob('output', 'importErrors.log')->{body};
    my @e = lines($errors);
    is_deeply([map { [@$_{qw(line deviceId errorCode)}] } @e],
              [[2, 't2', 'DeviceAlreadyExists'], [5, '', 'ArgumentInvalid']],
              'the errors so far, then line 5') or diag($errors);
    opendir my $d, "$main::DIR/blobs/.bulkjobs";
    is_deeply([grep { !/^\./ } readdir $d], [], 'no temp file left');
    is(redis_cmd('EXISTS', 'iothub:test:bulkjob:lease'), 0, 'lease given up');
 }]]
--- error_log eval
[qr/hub "test": taking over job "tk1" from "a{8}-/, qr/import job "tk1" taken over/]
--- no_error_log
[error]



=== TEST 12: a job whose checkpoint counted output that is not on this node fails with its reason; a job taken over 3 times already fails
--- main_config eval
$MAIN
--- config eval
$OWN_STORE
--- mqtt eval
[[perl => sub {
    put_blob('input', 'devices.txt', qq({"id":"x1"}\n{"id":"x2"}\n));
    redis_cmd(@$_) for main::orphan_import('gone', "$main::OLD_RUNNER 12 1 80 0 0 ");
    my $job = wait_job('gone');
    is($job->{status}, 'failed', 'no output so far: failed');
    like($job->{failureReason}, qr/could not be opened/, 'its reason');
    redis_cmd(@$_) for main::orphan_import('often', "", takeovers => 3);
    $job = wait_job('often');
    is($job->{status}, 'failed', 'taken over too often: failed');
    is($job->{failureReason}, 'the node running the job stopped', 'its reason');
    is(svc('GET', "/devices/x1?$V")->{status}, 404, 'nothing imported');
 }]]
--- error_log eval
qr/the output so far, ".*\.bulkjobs\/gone\.a{8}-.*\.errors", is not on this node/



=== TEST 13: the worker running an import is killed: no other job is accepted meanwhile; once the lease lapses (job_lease) the new worker takes the job over from its last checkpoint and completes it; only lines after that checkpoint are applied again (at least once)
--- main_config eval
iothub_block(extra => "job_poll_interval 200ms;\n    job_lease 2s;", hub_extra =>
    "storage_connection_string \"DefaultEndpointsProtocol=https;"
    . "AccountName=acct;AccountKey=$ACCOUNT_KEY;"
    . "BlobEndpoint=https://localhost/acct\"; storage_container uploads;")
--- config eval
$OWN_STORE
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    put_blob('input', 'devices.txt',
             join('', map { qq({"id":"k$_","importMode":"create"}\n) }
                      1 .. 20000));
    my $r = create_job({type => 'import',
                        inputBlobContainerUri => container_uri('input'),
                        outputBlobContainerUri => container_uri('output')});
    is($r->{status}, 200, 'import created');
    my $id = $r->{json}{jobId};
    select undef, undef, undef, 0.3;
    $r = http_request('GET', '/pid', [['Host', 'localhost'], ['Connection', 'close']], undef, 2);
    ok($r->{body} =~ /^\d+$/ && kill('KILL', $r->{body}), "$t: worker $r->{body} killed");
    select undef, undef, undef, 0.3;
    $r = create_job({type => 'export',
                     outputBlobContainerUri => container_uri('jobs')});
    is($r->{status}, 403, 'no other job while it waits to be taken over');
    my $job = wait_job($id);
    for (1 .. 3) {
        last if $job->{status} ne 'enqueued' && $job->{status} ne 'running';
        $job = wait_job($id);
    }
    is($job->{status}, 'completed', 'completed') or diag(explain($job));
    is(svc('GET', "/statistics/devices?$V")->{json}{totalDeviceCount}, 20000,
       'every device imported');
    my @e = lines(get_blob('output', 'importErrors.log')->{body});
    ok(@e < 100, scalar(@e) . ' lines applied again (fewer than a chunk)');
    is_deeply([grep { $_->{errorCode} ne 'DeviceAlreadyExists' } @e], [],
              'each one already done');
 }]]
--- error_log eval
[qr/\[alert\] .*exited on signal 9/, qr/taking over job "[0-9a-f-]{36}" from "[0-9a-f-]{36} \d+ \d+ /]



=== TEST 14: an export whose runner stopped is taken over after its cursor: the identities written so far are kept, the next page starts after the last device written
--- main_config eval
$MAIN
--- config eval
$OWN_STORE
--- request eval
[put_device('e1'), put_device('e2'), put_device('e3')]
--- error_code: 200
--- mqtt eval
[[perl => sub {
    my $kept = qq({"id":"e1","kept":true}\n);
    mkdir "$main::DIR/blobs/.bulkjobs";
    open my $f, '>', "$main::DIR/blobs/.bulkjobs/tk2.$main::OLD_RUNNER.export"
        or die $!;
    print $f $kept, qq({"id":"e2","written after the checkpoint":1}\n);
    close $f;
    redis_cmd('HSET', 'iothub:test:bulkjob:tk2', type => 'export',
              status => 'running', progress => 33,
              startTimeUtc => '2026-01-01T00:00:00Z',
              outputBlobContainerUri => container_uri('jobs'),
              excludeKeysInExport => 'true', outputBlobName => 'devices.txt',
              runner => $main::OLD_RUNNER,
              checkpoint => "$main::OLD_RUNNER 0 0 " . length($kept)
                            . ' 1 1 e1');
    redis_cmd('ZADD', 'iothub:test:bulkjobs', 1, 'tk2');
    my $job = wait_job('tk2');
    is($job->{status}, 'completed', 'completed') or diag(explain($job));
    my @l = lines(get_blob('jobs', 'devices.txt')->{body});
    is_deeply([map { $_->{id} } @l], [qw(e1 e2 e3)], 'e1 kept, then e2, e3');
    ok($l[0]{kept}, 'the line written before the takeover');
    is($l[1]{authentication}{symmetricKey}{primaryKey}, undef,
       'excludeKeysInExport kept');
 }]]
--- error_log eval
qr/export job "tk2" taken over/
--- no_error_log
[error]
