# Direct methods are bound to the session called (issue 8, defect 1): the
# request id carries a random nonce per call, and the caller takes an answer
# only for a call of its own with that nonce, from the device or module it
# called.  Another device answering (the exact rid, a guessed request
# number, a wrong or missing nonce) does not complete the call; the called
# device's own answer still does.  One worker, so every answer below goes
# through the same Redis link, in order: a forged answer accepted would end
# the call before the real one.

use lib 't/lib';
use Test::IotHub;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

require_modules(qw(core http mqtt));

our $V = 'api-version=2021-04-12';
our $MET = '$iothub/methods/POST/#';
our (%CALL, %RID);

# A step sending the method call $body to $path; call_end reads its answer.
sub call_start {
    my ($name, $path, $body) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => (node_port(1))[0],
                                      Timeout => 5)
            or return fail("$t: connect: $!");
        my $req = "POST $path?$V HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                . 'Authorization: ' . sas_token(policy => 'service') . "\r\n"
                . "Content-Type: application/json; charset=utf-8\r\n"
                . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
        my $n = syswrite($s, $req);
        return fail("$t: write: $!") unless ($n // 0) == length $req;
        $CALL{$name} = $s;
    }];
}

# A step reading call $name's whole answer: status and body.
sub call_end {
    my ($name, $status, $body) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        my $s = delete $CALL{$name} or return fail("$t: no call $name");
        my ($raw, $sel, $deadline) = ('', IO::Select->new($s), time + 10);
        while ((my $left = $deadline - time) > 0) {
            last unless $sel->can_read($left);
            last unless sysread($s, $raw, 65536, length $raw);
        }
        close $s;
        my ($head, $b) = split /\r\n\r\n/, $raw, 2;
        my ($st) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
        is($st // "no answer ($raw)", $status, "$t: call $name status");
        is($b, $body, "$t: call $name body");
    }];
}

sub publish_fields {
    my $p = shift // return undef;
    return undef unless length $p >= 2 && (ord($p) >> 4) == 3;
    my ($i, $len, $m) = (1, 0, 1);
    while (1) {
        my $b = ord substr($p, $i++, 1);
        $len += ($b & 0x7f) * $m;
        $m *= 128;
        last unless $b & 0x80;
    }
    my $body = substr($p, $i, $len);
    my $tl = unpack 'n', $body;
    return {topic => substr($body, 2, $tl)};
}

# An expect check: the method request $name; its rid is kept as $RID{$key}.
sub method_req {
    my ($name, $key) = @_;
    return sub {
        my $f = publish_fields(shift) or return 0;
        my $ok = $f->{topic} =~ m{^\$iothub/methods/POST/\Q$name\E/\?\$rid=([0-9a-f]{32}\.\d+\.[0-9a-f]{16})$};
        $RID{$key} = $1 if $ok;
        diag("method request: topic $f->{topic}") unless $ok;
        return $ok;
    };
}

# A send step: an answer with $body to the rid that $rid (a CODE given the
# rid of $key) makes.
sub answer {
    my ($key, $rid, $body) = @_;
    return [send => sub {
        mqtt_publish(topic => '$iothub/methods/res/200/?$rid=' . $rid->($RID{$key}),
                     payload => $body);
    }];
}

sub rid_parts { $_[0] =~ /^([0-9a-f]{32})\.(\d+)\.([0-9a-f]{16})$/ }

# Steps: PINGREQ and PINGRESP, so the session's earlier PUBLISHes were handled.
sub sync { return ([send => mqtt_pingreq()], [expect => mqtt_pingresp()]) }

sub method_device {
    my ($args) = @_;
    return ([connect => $args],
            [send => mqtt_subscribe(1, [$MET, 0])],
            [expect => mqtt_suback(1, 0)]);
}

run_tests();

__DATA__

=== TEST 1: device B answering device A's call (its exact rid, a guessed number, wrong or no nonce) does not complete it; A's answer does
--- request eval
[put_device('devA'), put_device('devB')]
--- mqtt eval
my $same = sub { $_[0] };
my $no_nonce = sub { my ($i, $n) = rid_parts($_[0]); "$i.$n" };
my $wrong = sub { my ($i, $n, $x) = rid_parts($_[0]);
                  "$i.$n." . ($x eq '0' x 16 ? '1' x 16 : '0' x 16) };
my $upper = sub { my ($i, $n, $x) = rid_parts($_[0]); "$i.$n." . uc $x };
my $guess = sub { my ($i, $n, $x) = rid_parts($_[0]); "$i." . ($n + 1) . ".$x" };
[[conn => 'b'],
 method_device('devB'),
 [conn => 'a'],
 method_device('devA'),
 call_start(c => '/twins/devA/methods', '{"methodName":"open","payload":1}'),
 [expect => method_req('open', 'a')],
 [conn => 'b'],
 (map { answer('a', $_, '"forged"') } $same, $no_nonce, $wrong, $upper, $guess),
 sync(),
 [conn => 'a'],
 answer('a', $same, '"real"'),
 call_end(c => 200, '{"status":200,"payload":"real"}')]
--- no_error_log
[error]



=== TEST 2: the caller checks the nonce and the identity itself: methodres published to its inbox with a wrong nonce, no nonce or another identity is dropped
--- request eval
put_device('devA')
--- mqtt eval
my $pub = sub {   # the message that $msg makes of the rid's number and nonce
    my ($msg) = @_;
    return [perl => sub {
        my ($i, $n, $x) = rid_parts($RID{a});
        redis_cmd('PUBLISH', "iothub:inbox:$i", $msg->($n, $x));
    }];
};
[method_device('devA'),
 call_start(c => '/twins/devA/methods', '{"methodName":"open"}'),
 [expect => method_req('open', 'a')],
 $pub->(sub { "methodres $_[0] " . '0' x 16 . ' devA 200 "zero nonce"' }),
 $pub->(sub { "methodres $_[0] 200 \"old format\"" }),
 $pub->(sub { "methodres $_[0] $_[1] devB 200 \"other device\"" }),
 $pub->(sub { "methodres $_[0] $_[1] devA/m1 200 \"a module\"" }),
 $pub->(sub { "methodres $_[0] $_[1] devA 200" }),
 answer('a', sub { $_[0] }, '"real"'),
 call_end(c => 200, '{"status":200,"payload":"real"}')]
--- no_error_log
[error]



=== TEST 3: the device of a module cannot answer the module's call, nor the module the device's
--- request eval
[put_device('devA'), put_module('devA', 'm1')]
--- mqtt eval
[method_device('devA'),
 [conn => 'm'],
 method_device({device => 'devA', module => 'm1'}),
 call_start(mod => '/twins/devA/modules/m1/methods', '{"methodName":"mm"}'),
 [expect => method_req('mm', 'mod')],
 [conn => 'a'],
 call_start(dev => '/twins/devA/methods', '{"methodName":"dm"}'),
 [expect => method_req('dm', 'dev')],
 answer('mod', sub { $_[0] }, '"device for module"'),
 sync(),
 [conn => 'm'],
 answer('dev', sub { $_[0] }, '"module for device"'),
 sync(),
 answer('mod', sub { $_[0] }, '"module"'),
 call_end(mod => 200, '{"status":200,"payload":"module"}'),
 [conn => 'a'],
 answer('dev', sub { $_[0] }, '"device"'),
 call_end(dev => 200, '{"status":200,"payload":"device"}')]
--- no_error_log
[error]



=== TEST 4: method routes check the ids in the URL as the twin routes do: 400 ArgumentInvalid for a bad device or module id
--- request eval
my $m = '{"methodName":"m"}';
my $long = 'd' x 129;
[put_device('dev1'),
 (map { {method => 'POST', path => "$_?$V", body => $m} }
      '/twins/bad%20id/methods', "/twins/$long/methods",
      '/twins/a%22b/methods', '/twins/dev1/modules/m%0A1/methods',
      "/twins/dev1/modules/$long/methods", '/twins/bad%7Cid/modules/m1/methods'),
 {method => 'GET', path => "/twins/bad%20id?$V"}]
--- error_code eval
[200, (400) x 7]
--- response_body_like eval
[undef, (qr/^\{"Message":"ErrorCode:ArgumentInvalid;invalid id","ExceptionMessage":"Tracking ID:/) x 7]
--- response_headers eval
[undef, ('iothub-errorcode: ArgumentInvalid') x 7]
--- no_error_log
[error]
