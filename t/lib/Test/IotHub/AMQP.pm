package Test::IotHub::AMQP;

# AMQP devices for the t/ suites: each is a python3-qpid-proton client
# (t/lib/amqp_client.py) run as a child process and driven with one JSON
# command a line.  $AMQP_PORT is a free loopback port for an AMQP stream
# server, chosen when the module loads (use it in a stream_config eval).
#
#   my $d = amqp_client();                 # connects, SASL off
#   my $r = $d->cmd(op => 'cbs', audience => ..., token => ...);
#   is($r->{status}, 200);

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use IO::Socket::INET;
use IPC::Open2;
use JSON::PP;

our @EXPORT = qw(amqp_client $AMQP_PORT);

our $AMQP_PORT = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "bind: $!\n";
    $s->sockport;
};

my $CLIENT = dirname(dirname(dirname(__FILE__))) . '/amqp_client.py';
my $JSON = JSON::PP->new->canonical;

# A connected client; %args go to the connect command (sasl => 'ANONYMOUS').
sub amqp_client {
    my %args = @_;
    my $pid = open2(my $out, my $in, '/usr/bin/python3', $CLIENT)
        or die "amqp_client: $!\n";
    my $self = bless {pid => $pid, in => $in, out => $out}, __PACKAGE__;
    my $r = $self->cmd(op => 'connect', port => $AMQP_PORT, %args);
    die "amqp_client: connect: " . $JSON->encode($r) . "\n" unless $r->{ok};
    return $self;
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

1;
