package Test::IotHub::HTTP;

# A minimal HTTP/1.1 client for the test harness: it sends exactly the
# bytes it is given (so tests control every header, or send malformed
# requests), then reads until the server closes or the timeout expires.
#
#   my $r = Test::IotHub::HTTP::request($port, 'GET', '/x',
#                                       [[Host => 'localhost']], undef, 5);
#   # {status, headers => {lc name => [values]}, body, raw}
#
# status is the HTTP status, or 'timeout', 'no response', 'bad response',
# 'connect failed: ...'.  Callers send "Connection: close".

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

sub request {
    my ($port, $method, $path, $headers, $body, $timeout) = @_;
    return raw($port, "$method $path HTTP/1.1\r\n"
                      . join('', map { "$_->[0]: $_->[1]\r\n" } @$headers)
                      . "\r\n" . ($body // ''), $timeout);
}

sub raw {
    my ($port, $req, $timeout) = @_;
    my %r = (raw => '', headers => {}, body => '');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => $timeout)
        or return {%r, status => "connect failed: $!"};
    local $SIG{PIPE} = 'IGNORE';
    print $s $req;
    my ($sel, $deadline, $status) = (IO::Select->new($s), time + $timeout);
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) { $status = 'timeout'; last }
        last unless sysread($s, $r{raw}, 65536, length $r{raw});
    }
    close $s;

    my $i = index($r{raw}, "\r\n\r\n");
    if ($i < 0 || $r{raw} !~ m{^HTTP/1\.[01] (\d{3})}) {
        $r{status} = $status // ($r{raw} eq '' ? 'no response' : 'bad response');
        return \%r;
    }
    $r{status} = $status // $1;
    my (undef, @lines) = split /\r\n/, substr($r{raw}, 0, $i);
    for (@lines) {
        push @{$r{headers}{lc $1}}, $2 if /^([^:]+):\s*(.*?)\s*$/;
    }
    my $body = substr($r{raw}, $i + 4);
    if (($r{headers}{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while ($body =~ /\G([0-9a-fA-F]+)[^\r]*\r\n/gc && hex $1) {
            $r{body} .= substr($body, pos($body), hex $1);
            pos($body) += hex($1) + 2;
        }
    } else {
        my $len = $r{headers}{'content-length'}[0];
        $r{body} = defined $len ? substr($body, 0, $len) : $body;
    }
    return \%r;
}

1;
