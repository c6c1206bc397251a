# File upload (reference/rest.md 14.4, messaging.md 4): the device routes
# POST /devices/{id}/files and /files/notifications[/{correlationId}], and
# the blob store of iothub_blob_store as @azure/storage-blob speaks to it
# (Put Blob, Put Block, Put Block List, Get Blob, HEAD), authorized by the
# service SAS the hub issues; bad signatures, expired ones, a wrong
# permission or another blob's SAS are 403 with Blob Storage's error XML.
# Completed uploads append their notification to the hub's bounded
# filenotifications stream.

use lib 't/lib';
use Test::IotHub;
use Test::More;
use JSON::PP qw(decode_json);
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(hmac_sha256_base64);
use POSIX qw(strftime);

require_modules(qw(core http mqtt));

our $V = 'api-version=2020-09-30';
our $ACCOUNT_KEY = encode_base64('0123456789abcdef0123456789abcdef', '');
our $STORAGE = "storage_connection_string \"DefaultEndpointsProtocol=https;"
             . "AccountName=acct;AccountKey=$ACCOUNT_KEY;"
             . "BlobEndpoint=https://localhost/acct\"; "
             . 'storage_container uploads;';
our $MAIN = iothub_block(hub_extra => $STORAGE);
our $STORE = "location / { iothub_api test; }\n"
           . "location /acct/ { iothub_blob_store test \$TEST_PREFIX/blobs; "
           . "iothub_blob_max_size 64k; }";
our $HEX = qr/^[0-9a-f]{32}[A-Za-z0-9_-]+$/;

# device(method, path, body, [headers], device): a request as dev1
sub device {
    my ($method, $path, $body, $headers, $dev) = @_;
    return http_request($method, $path,
                        [[Host => 'localhost'], [Connection => 'close'],
                         [Authorization => device_token($dev // 'dev1')],
                         ['Content-Type' => 'application/json'],
                         ['Content-Length' => length($body // '')],
                         @{$headers || []}], $body);
}

# start(blob name): the hub's answer to POST /devices/dev1/files, decoded
sub start {
    my ($name, $dev) = @_;
    $dev //= 'dev1';
    my $r = device('POST', "/devices/$dev/files?$V",
                   qq({"blobName":"$name"}), undef, $dev);
    is($r->{status}, 200, "files for $name") or diag($r->{body});
    return decode_json($r->{body});
}

# blob(method, url path with query, body, [headers]): the store
sub blob {
    my ($method, $url, $body, $headers) = @_;
    return http_request($method, $url,
                        [[Host => 'localhost'], [Connection => 'close'],
                         ['x-ms-version' => '2020-10-02'],
                         (defined $body
                          ? (['Content-Length' => length $body]) : ()),
                         @{$headers || []}], $body);
}

# The store's URL of an upload: /acct/<container>/<blob><SAS>
sub url {
    my $u = shift;
    return "/acct/$u->{containerName}/$u->{blobName}$u->{sasToken}";
}

# A service SAS made here (the 2019-02-02 string to sign), for the
# checks the hub's own SAS cannot make: expired, other permissions.
sub sas {
    my %a = (sp => 'rw', se => time + 3600, blob => 'dev1/x', @_);
    my $se = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $a{se});
    my $sts = join "\n", $a{sp}, '', $se, "/blob/acct/uploads/$a{blob}",
                         '', '', '', '2019-02-02', 'b', '', '', '', '', '',
                         '';
    my $sig = hmac_sha256_base64($sts, MIME::Base64::decode_base64(
                                           $ACCOUNT_KEY)) . '=';
    $sig =~ s/([+\/=])/sprintf '%%%02X', ord $1/ge;
    (my $e = $se) =~ s/:/%3A/g;
    return "?sv=2019-02-02&sr=b&sig=$sig&se=$e&sp=$a{sp}";
}

# error(response, status, code): Blob Storage's error answer
sub storage_error {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: status");
    is($r->{headers}{'x-ms-error-code'}[0], $code, "$name: x-ms-error-code");
    my $re = quotemeta('<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                       . $code . '</Code><Message>')
             . '[^<]+' . quotemeta('</Message></Error>');
    like($r->{body}, qr/^$re$/, "$name: the error XML")
        unless $r->{headers}{'content-length'}[0] eq '0';
}

# The hub's file notifications: the stream's records, oldest first
sub notifications {
    my @n;
    for my $e (@{redis_cmd('XRANGE', 'iothub:test:filenotifications', '-',
                           '+') || []}) {
        push @n, {@{$e->[1]}};
    }
    return @n;
}

run_tests();

__DATA__

=== TEST 1: iothub_blob_store names a hub without storage: nginx -t fails naming the directive
--- main_config eval
iothub_block()
--- config
location /acct/ { iothub_blob_store test /tmp/blobs; }
--- must_die
--- error_log
has no "storage_connection_string"



=== TEST 2: an unknown hub
--- main_config eval
$MAIN
--- config
location /acct/ { iothub_blob_store nosuchhub /tmp/blobs; }
--- must_die
--- error_log eval
qr/iothub_blob_store.*nosuchhub|nosuchhub.*iothub_blob_store/



=== TEST 3: a malformed storage connection string
--- main_config eval
iothub_block(hub_extra => 'storage_connection_string "AccountName=a;AccountKey=xyz";')
--- must_die
--- error_log
"storage_connection_string" directive has an invalid storage connection string



=== TEST 4: storage_container twice
--- main_config eval
iothub_block(hub_extra => "$STORAGE storage_container Up_Loads;")
--- must_die
--- error_log
"storage_container" directive is duplicate



=== TEST 5: a bad container name
--- main_config eval
iothub_block(hub_extra => 'storage_container Up_Loads;')
--- must_die
--- error_log
"storage_container" directive has an invalid container name



=== TEST 6: file_upload_sas_ttl over a day
--- main_config eval
iothub_block(hub_extra => 'file_upload_sas_ttl 2d;')
--- must_die
--- error_log
"file_upload_sas_ttl" of hub "test" must be from 1m to 1d



=== TEST 7: POST /files: the blob's SAS URI parts and a correlation Redis keeps for the SAS's life
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('dir/a.txt');
    like($u->{correlationId}, $HEX, 'correlationId');
    is($u->{hostName}, 'localhost/acct', 'hostName: the BlobEndpoint');
    is($u->{containerName}, 'uploads', 'containerName');
    is($u->{blobName}, 'dev1/dir/a.txt', 'blobName: under the device');
    like($u->{sasToken}, qr/^\?sv=2019-02-02&sr=b&sig=[^&]+&se=\d{4}-\d\d-
                           \d\dT\d\d%3A\d\d%3A\d\dZ&sp=rw$/x, 'sasToken');
    my $nonce = substr $u->{correlationId}, 0, 32;
    is(redis_cmd('GET', "iothub:test:{dev1}:upload:$nonce"),
       'dev1/dir/a.txt', 'the correlation');
    my $ttl = redis_cmd('PTTL', "iothub:test:{dev1}:upload:$nonce");
    ok($ttl > 3590000 && $ttl <= 3600000, 'it lasts as the SAS');
    is(redis_cmd('ZCARD', 'iothub:test:{dev1}:uploads'), 1,
       'one upload in progress');
 }]]
--- error_code: 200



=== TEST 8: POST /files errors: no blobName, a ".." segment, not JSON, no token, another device's token
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_device('dev2'),
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'device:dev1',
  body => '{"name":"x"}'},
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'device:dev1',
  body => '{"blobName":"a/../../b"}'},
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'device:dev1',
  body => 'not json'},
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'none',
  body => '{"blobName":"a"}'},
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'device:dev2',
  body => '{"blobName":"a"}'}]
--- error_code eval
[200, 200, 400, 400, 400, 401, 401]
--- response_body_like eval
[qr//, qr//, qr/ErrorCode:InvalidStorageEndpointOrBlob;/,
 qr/ErrorCode:InvalidStorageEndpointOrBlob;/, qr/ErrorCode:IotHubFormatError;/,
 qr/ErrorCode:IotHubUnauthorizedAccess;/,
 qr/ErrorCode:IotHubUnauthorizedAccess;/]



=== TEST 9: a hub without storage: 400 DefaultStorageEndpointNotConfigured
--- request eval
[put_device('dev1'),
 {method => 'POST', path => "/devices/dev1/files?$V", auth => 'device:dev1',
  body => '{"blobName":"a"}'}]
--- error_code eval
[200, 400]
--- response_body_like eval
[qr//, qr/ErrorCode:DefaultStorageEndpointNotConfigured;/]



=== TEST 10: Put Blob, Get Blob and HEAD; the notification (Node form) is 204 and joins the stream with the blob's size; a second one is 400015
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('dir/a.txt');
    my $body = "hello blob\n" x 10;
    my $r = blob('PUT', url($u), $body, [['x-ms-blob-type', 'BlockBlob']]);
    is($r->{status}, 201, 'Put Blob: 201') or diag($r->{body});
    like($r->{headers}{etag}[0], qr/^"/, 'Put Blob: ETag');
    my $etag = $r->{headers}{etag}[0];
    ok($r->{headers}{'last-modified'}[0], 'Put Blob: Last-Modified');
    $r = blob('GET', url($u));
    is($r->{status}, 200, 'Get Blob: 200');
    is($r->{body}, $body, 'Get Blob: the bytes put');
    is($r->{headers}{'x-ms-blob-type'}[0], 'BlockBlob', 'x-ms-blob-type');
    is($r->{headers}{etag}[0], $etag, "Get Blob: Put Blob's ETag");
    $r = blob('HEAD', url($u));
    is($r->{status}, 200, 'HEAD: 200');
    is($r->{headers}{'content-length'}[0], length $body, 'HEAD: the size');
    is($r->{body}, '', 'HEAD: no body');
    $r = blob('GET', url($u), undef, [['x-ms-range', 'bytes=11-21']]);
    is($r->{status}, 206, 'x-ms-range: 206');
    is($r->{body}, "hello blob\n", 'x-ms-range: the range');
    $r = blob('GET', url($u), undef, [['Range', 'bytes=-3']]);
    is($r->{body}, "ob\n", 'Range: the range');
    $r = device('POST', "/devices/dev1/files/notifications/"
                        . "$u->{correlationId}?$V",
                '{"isSuccess":true,"statusCode":201,"statusDescription":""}',
                [['iothub-name', 'localhost']]);
    is($r->{status}, 204, 'notification: 204') or diag($r->{body});
    my @n = notifications();
    is(scalar @n, 1, 'one notification');
    is($n[0]{deviceId}, 'dev1', 'deviceId');
    is($n[0]{blobName}, 'dev1/dir/a.txt', 'blobName');
    is($n[0]{blobUri}, 'https://localhost/acct/uploads/dev1/dir/a.txt',
       'blobUri');
    is($n[0]{blobSizeInBytes}, length $body, 'blobSizeInBytes');
    like($n[0]{lastUpdatedTime},
         qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/, 'lastUpdatedTime');
    like($n[0]{enqueuedTimeUtc}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/,
         'enqueuedTimeUtc');
    is(redis_cmd('ZCARD', 'iothub:test:{dev1}:uploads'), 0,
       'no upload in progress');
    $r = device('POST', "/devices/dev1/files/notifications/"
                        . "$u->{correlationId}?$V", '{"isSuccess":true}');
    is($r->{status}, 400, 'again: 400');
    like($r->{body}, qr/ErrorCode:InvalidFileUploadCorrelationId;/,
         'again: InvalidFileUploadCorrelationId');
 }]]



=== TEST 11: Put Block twice and Put Block List: the blob is the blocks in the list's order; uncommitted blocks are gone
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('b.bin');
    my ($a, $b) = ('A' x 3000, 'B' x 5);
    my ($ida, $idb, $idc) = map { encode_base64($_, '') } qw(blk-1 blk-2 blk-3);
    (my $qa = $ida) =~ s/=/%3D/g;
    (my $qb = $idb) =~ s/=/%3D/g;
    (my $qc = $idc) =~ s/=/%3D/g;
    my $r = blob('PUT', url($u) . "&comp=block&blockid=$qa", $a);
    is($r->{status}, 201, 'Put Block 1: 201') or diag($r->{body});
    $r = blob('PUT', url($u) . "&comp=block&blockid=$qb", $b);
    is($r->{status}, 201, 'Put Block 2: 201');
    $r = blob('PUT', url($u) . "&comp=block&blockid=$qc", 'never');
    is($r->{status}, 201, 'Put Block 3: 201');
    $r = blob('GET', url($u));
    is($r->{status}, 404, 'not a blob before the list');
    is($r->{headers}{'x-ms-error-code'}[0], 'BlobNotFound', 'BlobNotFound');
    my $list = qq(<?xml version="1.0" encoding="UTF-8" standalone="yes"?>)
             . "<BlockList><Latest>$idb</Latest><Latest>$ida</Latest>"
             . "<Latest>$idb</Latest></BlockList>";
    $r = blob('PUT', url($u) . '&comp=blocklist', $list);
    is($r->{status}, 201, 'Put Block List: 201') or diag($r->{body});
    $r = blob('GET', url($u));
    is($r->{body}, "$b$a$b", 'the blocks in order');
    $r = blob('PUT', url($u) . '&comp=blocklist',
              "<BlockList><Latest>$idc</Latest></BlockList>");
    storage_error($r, 400, 'InvalidBlockList', 'a dropped block');
    $r = blob('PUT', url($u) . "&comp=block&blockid=$qa", 'one');
    $r = blob('PUT', url($u) . '&comp=blocklist',
              "<BlockList><Latest>$ida</Latest></BlockList>");
    is($r->{status}, 201, 'one block: 201');
    is(blob('GET', url($u))->{body}, 'one', 'one block is the blob');
    # a list over client_body_buffer_size goes through a file
    $list = '<BlockList>' . ("<Latest>$ida</Latest>\n" x 1000)
          . "<Latest>$idb</Latest></BlockList>";
    $r = blob('PUT', url($u) . "&comp=block&blockid=$qa", 'a');
    $r = blob('PUT', url($u) . "&comp=block&blockid=$qb", 'b');
    $r = blob('PUT', url($u) . '&comp=blocklist', $list);
    is($r->{status}, 201, 'a long list: 201') or diag($r->{body});
    is(blob('GET', url($u))->{body}, ('a' x 1000) . 'b', 'a long list');
    $r = blob('PUT', url($u) . '&comp=blocklist', '<BlockList></BlockList>');
    is($r->{status}, 201, 'an empty list: 201');
    $r = blob('GET', url($u));
    is($r->{status}, 200, 'an empty blob: 200');
    is($r->{body}, '', 'an empty blob: empty');
    $r = blob('PUT', url($u), '', [['x-ms-blob-type', 'BlockBlob']]);
    is($r->{status}, 201, 'an empty Put Blob: 201') or diag($r->{body});
    is(blob('HEAD', url($u))->{headers}{'content-length'}[0], 0,
       'an empty Put Blob: 0 bytes');
    $r = blob('PUT', url($u) . '&comp=blocklist', '<BlockList><Latest>');
    storage_error($r, 400, 'InvalidXmlDocument', 'malformed XML');
    $r = blob('PUT', url($u) . '&comp=block&blockid=%25%25', 'x');
    storage_error($r, 400, 'InvalidQueryParameterValue', 'a bad block id');
    $r = blob('PUT', url($u) . '&comp=appendblock', 'x');
    storage_error($r, 400, 'InvalidQueryParameterValue', 'an unknown comp');
 }]]
--- error_log
a client request body is buffered to a temporary file



=== TEST 12: the SAS: a bad signature, expired, a read-only one written with, another blob's, none: 403 with the error XML
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('s.txt');
    my $h = [['x-ms-blob-type', 'BlockBlob']];
    (my $bad = url($u)) =~ s/sig=(.)/'sig=' . ($1 eq 'A' ? 'B' : 'A')/e;
    storage_error(blob('PUT', $bad, 'x', $h), 403, 'AuthenticationFailed',
                  'a bad signature');
    storage_error(blob('PUT', '/acct/uploads/dev1/s.txt'
                              . sas(blob => 'dev1/s.txt', se => time - 10),
                       'x', $h),
                  403, 'AuthenticationFailed', 'expired');
    my $r = blob('PUT', '/acct/uploads/dev1/s.txt'
                        . sas(blob => 'dev1/s.txt'), 'mine', $h);
    is($r->{status}, 201, 'a SAS made here is good') or diag($r->{body});
    storage_error(blob('PUT', '/acct/uploads/dev1/s.txt'
                              . sas(blob => 'dev1/s.txt', sp => 'r'),
                       'x', $h),
                  403, 'AuthorizationPermissionMismatch', 'read-only');
    is(blob('GET', '/acct/uploads/dev1/s.txt'
                   . sas(blob => 'dev1/s.txt', sp => 'r'))->{body},
       'mine', 'read-only reads');
    (my $other = url($u)) =~ s{dev1/s\.txt}{dev1/t.txt};
    storage_error(blob('PUT', $other, 'x', $h), 403, 'AuthenticationFailed',
                  'another blob');
    (my $dev2 = url($u)) =~ s{dev1/s\.txt}{dev2/s.txt};
    storage_error(blob('GET', $dev2), 403, 'AuthenticationFailed',
                  "another device's blob");
    storage_error(blob('GET', '/acct/uploads/dev1/s.txt'), 403,
                  'AuthenticationFailed', 'no SAS');
    storage_error(blob('GET', '/acct/Uploads/dev1/s.txt' . $u->{sasToken}),
                  400, 'InvalidResourceName', 'a container name in capitals');
    storage_error(blob('DELETE', url($u)), 405, 'UnsupportedHttpVerb',
                  'DELETE');
    storage_error(blob('PUT', url($u), 'x'), 400, 'MissingRequiredHeader',
                  'no x-ms-blob-type');
    is(blob('GET', url($u))->{body}, 'mine', 'refused writes wrote nothing');
 }]]
--- error_log
iothub blob: forbidden, signature did not match



=== TEST 13: oversize: a body over iothub_blob_max_size is 413 RequestBodyTooLarge, a chunked one 411
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('big.bin');
    my $h = [['x-ms-blob-type', 'BlockBlob']];
    storage_error(blob('PUT', url($u), 'x' x (64 * 1024 + 1), $h), 413,
                  'RequestBodyTooLarge', 'Put Blob');
    storage_error(blob('PUT', url($u) . '&comp=block&blockid=AAAA',
                       'x' x (64 * 1024 + 1)),
                  413, 'RequestBodyTooLarge', 'Put Block');
    my $r = blob('PUT', url($u), 'x' x (64 * 1024), $h);
    is($r->{status}, 201, 'at the limit: 201');
    storage_error(http_request('PUT', url($u),
                               [[Host => 'localhost'],
                                [Connection => 'close'], @$h,
                                ['Transfer-Encoding', 'chunked']],
                               "5\r\nhello\r\n0\r\n\r\n"),
                  411, 'MissingContentLengthHeader', 'chunked');
 }]]



=== TEST 14: the C SDK's notification (correlationId in the body), a failed upload (no notification), isSuccess missing (400019), a foreign correlation (400015)
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
[put_device('dev1'), put_device('dev2')]
--- error_code eval
[200, 200]
--- mqtt eval
[[perl => sub {
    my $u = start('c.txt');
    my $r = device('POST', "/devices/dev1/files/notifications?$V",
                   qq({"correlationId":"$u->{correlationId}"}));
    is($r->{status}, 400, 'no isSuccess: 400');
    like($r->{body}, qr/ErrorCode:InvalidFileUploadCompletionStatus;/,
         'InvalidFileUploadCompletionStatus');
    $r = device('POST', "/devices/dev2/files/notifications?$V",
                qq({"correlationId":"$u->{correlationId}","isSuccess":true}),
                undef, 'dev2');
    is($r->{status}, 400, "dev2 with dev1's correlation: 400");
    like($r->{body}, qr/ErrorCode:InvalidFileUploadCorrelationId;/,
         'InvalidFileUploadCorrelationId');
    $r = device('POST', "/devices/dev1/files/notifications/?$V",
                qq({"correlationId":"$u->{correlationId}","isSuccess":false,)
                . qq("statusCode":500,"statusDescription":"disk full"}));
    is($r->{status}, 204, 'failed upload: 204');
    is(scalar(notifications()), 0, 'no notification of a failure');
    $r = device('POST', "/devices/dev1/files/notifications/garbage?$V",
                '{"isSuccess":true}');
    like($r->{body}, qr/ErrorCode:InvalidFileUploadCorrelationId;/,
         'a made-up correlation');
 }]]



=== TEST 15: ten uploads at once, the eleventh is 403006; an upload whose SAS expired is 400016
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my @u = map { start("f$_") } 1 .. 10;
    my $r = device('POST', "/devices/dev1/files?$V", '{"blobName":"f11"}');
    is($r->{status}, 403, 'the eleventh: 403');
    like($r->{body},
         qr/ErrorCode:DeviceMaximumActiveFileUploadLimitExceeded;/,
         'DeviceMaximumActiveFileUploadLimitExceeded');
    my $nonce = substr $u[0]{correlationId}, 0, 32;
    redis_cmd('DEL', "iothub:test:{dev1}:upload:$nonce");
    redis_cmd('ZADD', 'iothub:test:{dev1}:uploads', 1000, $nonce);
    $r = device('POST', "/devices/dev1/files/notifications/"
                        . "$u[0]{correlationId}?$V", '{"isSuccess":true}');
    is($r->{status}, 400, 'expired: 400');
    like($r->{body}, qr/ErrorCode:ExpiredFileUploadCorrelationId;/,
         'ExpiredFileUploadCorrelationId');
    is(device('POST', "/devices/dev1/files?$V",
              '{"blobName":"f11"}')->{status}, 200,
       'an ended upload makes room');
 }]]



=== TEST 16: file_notifications off: the upload completes, no notification
--- main_config eval
iothub_block(hub_extra => "$STORAGE file_notifications off;")
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('q.txt');
    my $r = device('POST', "/devices/dev1/files/notifications/"
                           . "$u->{correlationId}?$V", '{"isSuccess":true}');
    is($r->{status}, 204, 'completed');
    is(scalar(notifications()), 0, 'no notification');
 }]]



=== TEST 17: Redis down: the /files routes are 503; the store, which needs no Redis, serves on
--- main_config eval
$MAIN
--- config eval
$STORE
--- request eval
put_device('dev1')
--- mqtt eval
[[perl => sub {
    my $u = start('r.txt');
    is(blob('PUT', url($u), 'kept', [['x-ms-blob-type', 'BlockBlob']])
       ->{status}, 201, 'Put Blob');
    $::U = $u;
 }],
 [redis_stop => 'save'],
 [perl => sub {
    my $r = device('POST', "/devices/dev1/files/notifications/"
                           . "$::U->{correlationId}?$V", '{"isSuccess":true}');
    is($r->{status}, 503, 'notification: 503');
    is(blob('GET', url($::U))->{body}, 'kept', 'Get Blob without Redis');
 }],
 ['redis_start'],
 [perl => sub {
    my $r;
    for (1 .. 50) {
        $r = device('POST', "/devices/dev1/files/notifications/"
                            . "$::U->{correlationId}?$V",
                    '{"isSuccess":true}');
        last if $r->{status} == 204;
        select undef, undef, undef, 0.1;
    }
    is($r->{status}, 204, 'Redis back: 204');
    is(scalar(notifications()), 1, 'one notification');
 }]]
