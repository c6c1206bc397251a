# File-upload notifications on AMQP (reference/amqp.md 9.3, messaging.md
# 4): /messages/serviceBound/filenotifications (and the docs' name
# .../fileuploadnotifications) sends each notification of the hub's
# filenotifications stream as one message, a JSON object in a data
# section, content type application/vnd.microsoft.iothub.filenotification
# .json; accepted or rejected it is removed, released it comes again.  The
# receiver needs a service claim covering the node.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);

require_modules(qw(core http mqtt amqp));

our $V = 'api-version=2020-09-30';
our $FN = '/messages/serviceBound/filenotifications';
our $AMQP_SERVER = "server { listen 127.0.0.1:$AMQP_PORT; "
                   . "iothub_amqp test; }";
our $ACCOUNT_KEY = encode_base64('0123456789abcdef0123456789abcdef', '');
our $MAIN = iothub_block(hub_extra =>
    "storage_connection_string \"AccountName=acct;AccountKey=$ACCOUNT_KEY;"
    . "BlobEndpoint=https://localhost/acct\"; storage_container uploads;");
our $STORE = "location / { iothub_api test; }\n"
           . "location /acct/ { iothub_blob_store test \$TEST_PREFIX/blobs; }";

sub check {
    my ($r, $t, $key, $want) = @_;
    my $ok = Test::More::is($r->{$key}, $want, $t);
    Test::More::diag(Test::More::explain($r)) unless $ok;
    return $ok;
}

sub device {
    my ($method, $path, $body, @headers) = @_;
    return http_request($method, $path,
                        [[Host => 'localhost'], [Connection => 'close'],
                         [Authorization => device_token('dev1')],
                         ['Content-Length' => length($body // '')],
                         @headers], $body);
}

# uploads a blob of dev1 with the hub's SAS and completes it
sub upload {
    my ($name, $content) = @_;
    my $u = JSON::PP::decode_json(
        device('POST', "/devices/dev1/files?$V",
               qq({"blobName":"$name"}))->{body});
    my $r = http_request('PUT', "/acct/$u->{containerName}/$u->{blobName}"
                                . $u->{sasToken},
                         [[Host => 'localhost'], [Connection => 'close'],
                          ['x-ms-blob-type' => 'BlockBlob'],
                          ['Content-Length' => length $content]], $content);
    die "Put Blob: $r->{status} $r->{body}\n" unless $r->{status} == 201;
    $r = device('POST', "/devices/dev1/files/notifications/"
                        . "$u->{correlationId}?$V", '{"isSuccess":true}');
    die "notification: $r->{status} $r->{body}\n" unless $r->{status} == 204;
}

# a back end with a claim for the hub
sub service {
    my %o = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'cbs', audience => $o{audience} // 'localhost',
                    token => sas_token(policy => 'service'));
    die "put-token: " . Test::More::explain($r)
        unless ($r->{status} // 0) == 200;
    return $c;
}

run_tests();

__DATA__

=== TEST 1: a completed upload's notification: one message, a JSON object with the blob's name, URI and size; released it comes again, accepted it is gone
--- main_config eval
$::MAIN
--- config eval
$::STORE
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    main::upload('dir/one.txt', 'x' x 1234);
    my $c = main::service();
    my $r = $c->cmd(op => 'receiver', name => 'fn', address => $::FN,
                    credit => 5);
    main::check($r, "$t: attached", 'ok', 1);
    $r = $c->cmd(op => 'receive', name => 'fn');
    my $m = $r->{message} or Test::More::diag(Test::More::explain($r));
    main::check($m, "$t: content-type", 'content_type',
                'application/vnd.microsoft.iothub.filenotification.json');
    main::check($m, "$t: user-id", 'user_id', 'test');
    main::check($m, "$t: data section", 'data_section', 1);
    Test::More::like($m->{annotations}{'iothub-enqueuedtime'} // '',
                     qr/^\d+/, "$t: enqueued time");
    my $lock = $m->{id};
    Test::More::like($lock // '', qr/^[0-9a-f]{32}$/, "$t: message-id");
    my $n = eval { JSON::PP::decode_json($m->{body}) } // {};
    Test::More::is(ref $n, 'HASH', "$t: a JSON object")
        or Test::More::diag($m->{body});
    Test::More::is_deeply([sort keys %$n],
                          [sort qw(deviceId blobUri blobName lastUpdatedTime
                                   blobSizeInBytes enqueuedTimeUtc)],
                          "$t: the reference's fields");
    main::check($n, "$t: deviceId", 'deviceId', 'dev1');
    main::check($n, "$t: blobName", 'blobName', 'dev1/dir/one.txt');
    main::check($n, "$t: blobUri", 'blobUri',
                'https://localhost/acct/uploads/dev1/dir/one.txt');
    main::check($n, "$t: blobSizeInBytes", 'blobSizeInBytes', 1234);
    Test::More::like($m->{body}, qr/"blobSizeInBytes":1234[,}]/,
                     "$t: the size is a JSON number");
    $c->cmd(op => 'settle', name => 'fn', outcome => 'release');
    $r = $c->cmd(op => 'receive', name => 'fn');
    $m = $r->{message} or Test::More::diag(Test::More::explain($r));
    Test::More::like($m->{body} // '', qr/"dev1\/dir\/one.txt"/,
                     "$t: released: again");
    Test::More::isnt($m->{id}, $lock, "$t: a new lock");
    $c->cmd(op => 'settle', name => 'fn', outcome => 'accept');
    $::SERVICE = $c;
 }],
 [redis => 'XLEN iothub:test:filenotifications', '0', 3],
 [perl => sub {
    my (undef, $t) = @_;
    my $r = $::SERVICE->cmd(op => 'receive', name => 'fn', timeout => 2);
    Test::More::like($r->{exception} // '', qr/Timeout/, "$t: nothing more")
        or Test::More::diag(Test::More::explain($r));
    $::SERVICE->close;
 }]]
--- no_error_log
[error]



=== TEST 2: one notification a message, in order; rejected is removed; the docs' address; a detach with one out gives it to the next receiver
--- main_config eval
$::MAIN
--- config eval
$::STORE
--- stream_config eval: $::AMQP_SERVER
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    main::upload("f$_", 'y' x $_) for 1 .. 3;
    my $c = main::service();
    my $r = $c->cmd(op => 'receiver', name => 'fn',
                    address => '/messages/servicebound/'
                               . 'fileuploadnotifications');
    main::check($r, "$t: the docs' address", 'ok', 1);
    $r = $c->cmd(op => 'receive', name => 'fn');
    Test::More::like($r->{message}{body} // '', qr/"dev1\/f1"/,
                     "$t: first") or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'fn', outcome => 'reject');
    $r = $c->cmd(op => 'receive', name => 'fn');
    Test::More::like($r->{message}{body} // '', qr/"dev1\/f2"/,
                     "$t: second") or Test::More::diag(Test::More::explain($r));
    $c->close;
    $c = main::service();
    $r = $c->cmd(op => 'receiver', name => 'fn', address => $::FN);
    $r = $c->cmd(op => 'receive', name => 'fn');
    Test::More::like($r->{message}{body} // '', qr/"dev1\/f2"/,
                     "$t: abandoned by the detach: again")
        or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'fn', outcome => 'accept');
    $r = $c->cmd(op => 'receive', name => 'fn');
    Test::More::like($r->{message}{body} // '', qr/"blobSizeInBytes":3/,
                     "$t: third") or Test::More::diag(Test::More::explain($r));
    $c->cmd(op => 'settle', name => 'fn', outcome => 'accept');
    $c->close;
 }],
 [redis => 'XLEN iothub:test:filenotifications', '0', 3]]
--- no_error_log
[error]



=== TEST 3: the receiver needs a claim covering it and is received from; feedback beside it
--- main_config eval
$::MAIN
--- config eval
$::STORE
--- stream_config eval: $::AMQP_SERVER
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'receiver', name => 'f0', address => $::FN);
    main::check($r, "$t: no claim", 'error', 'amqp:unauthorized-access');
    $c->close;
    $c = main::service(audience => 'localhost/messages/serviceBound/feedback');
    $r = $c->cmd(op => 'receiver', name => 'f1', address => $::FN);
    main::check($r, "$t: a feedback-only claim", 'error',
                'amqp:unauthorized-access');
    $c->close;
    $c = main::service();
    $r = $c->cmd(op => 'sender', name => 's', address => $::FN);
    main::check($r, "$t: sent to", 'error', 'amqp:not-allowed');
    $r = $c->cmd(op => 'receiver', name => 'f2', address => $::FN);
    main::check($r, "$t: attached", 'ok', 1);
    $r = $c->cmd(op => 'receiver', name => 'fb',
                 address => '/messages/serviceBound/feedback');
    main::check($r, "$t: feedback beside it", 'ok', 1);
    $c->close;
 }]]
--- no_error_log
[error]
