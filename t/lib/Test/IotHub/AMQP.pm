package Test::IotHub::AMQP;

# AMQP devices for the t/ suites: each is a python3-qpid-proton client
# (t/lib/amqp_client.py) run as a child process and driven with one JSON
# command a line.  $AMQP_PORT is a free loopback port for an AMQP stream
# server, chosen when the module loads (use it in a stream_config eval).
#
#   my $d = amqp_client();                 # connects, SASL off
#   my $r = $d->cmd(op => 'cbs', audience => ..., token => ...);
#   is($r->{status}, 200);
#
# A REST call that the device answers meanwhile (a direct method):
#
#   my $call = rest_start(POST => "/twins/dev1/methods?...", $body);
#   ... the device receives the request and answers ...
#   my $r = rest_end($call);               # {status, headers, body}

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use IO::Select;
use IO::Socket::INET;
use IPC::Open2;
use JSON::PP;
use Time::HiRes qw(time);

use Test::IotHub::Port qw(free_port);
use Test::IotHub::SAS ();

our @EXPORT = qw(amqp_client amqp_try rest_start rest_end $AMQP_PORT);

our $AMQP_PORT = free_port();

my $CLIENT = dirname(dirname(dirname(__FILE__))) . '/amqp_client.py';
my $JSON = JSON::PP->new->canonical;

# A connected client; %args go to the connect command (sasl => 'ANONYMOUS').
sub amqp_client {
    my ($self, $r) = amqp_try(@_);
    die "amqp_client: connect: " . $JSON->encode($r) . "\n" unless $r->{ok};
    return $self;
}

# A connection that may be refused: (client or undef, the connect answer).
sub amqp_try {
    my %args = @_;
    my $pid = open2(my $out, my $in, '/usr/bin/python3', $CLIENT)
        or die "amqp_client: $!\n";
    my $self = bless {pid => $pid, in => $in, out => $out}, __PACKAGE__;
    my $r = $self->cmd(op => 'connect', port => $AMQP_PORT, %args);
    return ($self, $r) if $r->{ok};
    $self->close;
    return (undef, $r);
}

# Runs one command; returns the answer as a hashref.
sub cmd {
    my ($self, %c) = @_;
    print { $self->{in} } $JSON->encode(\%c), "\n";
    my $line = readline($self->{out});
    return {exception => 'the client ended'} unless defined $line;
    return $JSON->decode($line);
}

sub close {
    my $self = shift;
    return unless $self->{pid};
    $self->cmd(op => 'close');
    close $self->{in};
    waitpid($self->{pid}, 0);
    $self->{pid} = undef;
}

sub DESTROY { $_[0]->close }

# Sends a REST request to the hub's HTTP port (a service token unless
# $o{auth}) and returns at once; rest_end() reads the answer.
sub rest_start {
    my ($method, $path, $body, %o) = @_;
    $body //= '';
    my $port = $o{port} // do { no warnings "once"; $Test::IotHub::TEST_NGINX_PORT };
    my $auth = $o{auth} // Test::IotHub::SAS::sas_token(policy => 'service');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5)
        or die "rest_start: connect to $port: $!\n";
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\nAuthorization: $auth\r\n"
            . "Content-Type: application/json; charset=utf-8\r\n"
            . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    syswrite($s, $req) == length $req or die "rest_start: write: $!\n";
    return $s;
}

# The answer of a rest_start() call within $timeout s (default 10), as
# Test::IotHub::HTTP::request gives it.
sub rest_end {
    my ($s, $timeout) = @_;
    my ($raw, $sel) = ('', IO::Select->new($s));
    my $deadline = time + ($timeout // 10);
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        last unless sysread($s, $raw, 65536, length $raw);
    }
    CORE::close($s);
    my %r = (raw => $raw, headers => {}, body => '', status => 'no answer');
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return \%r unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3})};
    $r{status} = $1;
    for (split /\r\n/, $head) {
        push @{$r{headers}{lc $1}}, $2 if /^([^:]+):\s*(.*?)\s*$/;
    }
    $body //= '';
    if (($r{headers}{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while ($body =~ /\G([0-9a-fA-F]+)[^\r]*\r\n/gc && hex $1) {
            $r{body} .= substr($body, pos($body), hex $1);
            pos($body) += hex($1) + 2;
        }
    } else {
        $r{body} = $body;
    }
    return \%r;
}

1;
