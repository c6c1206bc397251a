# Import/export jobs (reference/rest.md 11): POST /jobs/create, GET /jobs,
# GET and DELETE /jobs/{id}.  Exports write the identities as JSON lines
# into a blob of the hub's own blob store (iothub_blob_store), imports
# read one and write importErrors.log; the container URI's SAS is checked
# as the store checks it.  One job at a time; job state lives in Redis.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::SAS qw(auth_header);
use Test::More;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256_base64);
use POSIX qw(strftime);

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
    ok(!-e "$Test::IotHub::PREFIX/blobs/jobs/devices.txt",
       'nothing written') if defined $Test::IotHub::PREFIX;
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



=== TEST 4: one job at a time: 403 JobQuotaExceeded; a running job whose lease is gone reads as failed
--- main_config eval
$MAIN
--- config eval
$STORE
--- redis
SET iothub:test:bulkjob:lease other-job
HSET iothub:test:bulkjob:other-job type export status running progress 10 startTimeUtc 2024-01-01T00:00:00Z outputBlobContainerUri https://x excludeKeysInExport false outputBlobName devices.txt
ZADD iothub:test:bulkjobs 1 other-job
HSET iothub:test:bulkjob:orphan type import status running progress 5 startTimeUtc 2024-01-01T00:00:00Z
ZADD iothub:test:bulkjobs 2 orphan
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
    is_deeply([map { $_->{jobId} } @{$r->{json}}], [qw(orphan other-job)],
              'newest first');
    is($r->{json}[0]{status}, 'failed', 'the orphan failed');
    like($r->{json}[0]{failureReason}, qr/stopped/, 'its reason');
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
