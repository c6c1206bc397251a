package Test::IotHub::Port;

# Ports for the servers a test file starts (nginx, Redis, AMQP).
#
# A port the kernel hands out for "any port" lies in its ephemeral range,
# the same range it takes source ports of outgoing connections from: between
# a test learning such a port and its server binding it, any client
# connection on the machine (another test file's, under prove -j) may take
# it, and the server's bind fails. So ports here come from below the
# ephemeral range, where the kernel never picks, and a lock file per port,
# held while this process lives, keeps parallel test files apart.

use strict;
use warnings;

use Exporter 'import';
use Fcntl qw(:flock);
use File::Spec;
use IO::Socket::INET;

our @EXPORT_OK = qw(free_port);

my %HELD;       # port => the locked file handle
my $DIR = File::Spec->catdir(File::Spec->tmpdir, 'iothub-test-ports');

sub _range {
    my $low = 32768;
    if (open(my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range')) {
        ($low) = split ' ', scalar <$fh>;
    }
    my $from = $low - 12000;
    $from = 1024 if $from < 1024;
    return ($from, $low);
}

sub free_port {
    my ($from, $to) = _range();
    mkdir $DIR;
    for (1 .. 2000) {
        my $port = $from + int(rand($to - $from));
        next if $HELD{$port};
        open(my $fh, '>', "$DIR/$port") or next;
        unless (flock($fh, LOCK_EX | LOCK_NB)) {
            close $fh;
            next;
        }
        # as nginx and Redis bind: SO_REUSEADDR, TIME_WAIT does not count
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Listen => 1, ReuseAddr => 1);
        unless ($s) {
            close $fh;
            next;
        }
        close $s;
        $HELD{$port} = $fh;
        return $port;
    }
    die "free_port: no free port in $from..$to\n";
}

1;
