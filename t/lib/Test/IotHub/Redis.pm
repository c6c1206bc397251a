package Test::IotHub::Redis;

# A minimal blocking Redis (RESP2) client for the test harness, so the
# tests need neither redis-cli nor a CPAN Redis module.
#
#   my $r = Test::IotHub::Redis->new(port => 6379);
#   $r->cmd(qw(HSET key field value));   # 1
#
# Replies: integers, strings, undef (nil), arrayrefs, and
# Test::IotHub::Redis::Error objects for error replies; I/O errors and
# timeouts die (the connection is then dropped and reopened on next use).

use strict;
use warnings;

use IO::Socket::INET;

sub new {
    my ($class, %args) = @_;
    return bless {port => $args{port}, timeout => $args{timeout} // 5}, $class;
}

sub disconnect { delete $_[0]{sock} }

sub cmd {
    my ($self, @args) = @_;
    utf8::encode($_) for grep { utf8::is_utf8($_) } @args;
    my $s = $self->{sock} ||= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Timeout => $self->{timeout})
        or die "redis connect: $!\n";
    my $r = eval {
        local $SIG{ALRM} = sub { die "redis: timeout\n" };
        alarm $self->{timeout};
        print $s '*', scalar @args, "\r\n",
                 map { ('$', length, "\r\n", $_, "\r\n") } @args;
        my $r = _read($s);
        alarm 0;
        $r;
    };
    if ($@) { alarm 0; $self->disconnect; die $@ }
    return $r;
}

sub _read {
    my $s = shift;
    defined(my $line = <$s>) or die "redis: connection closed\n";
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+';
    return bless \$v, 'Test::IotHub::Redis::Error' if $t eq '-';
    return 0 + $v if $t eq ':';
    return undef if $v < 0;   # nil bulk string or array
    return [map { _read($s) } 1 .. $v] if $t eq '*';
    die "redis: bad reply '$line'\n" unless $t eq '$';
    my $buf = '';
    while (length $buf < $v + 2) {
        read($s, $buf, $v + 2 - length $buf, length $buf)
            or die "redis: connection closed\n";
    }
    return substr($buf, 0, $v);
}

sub is_error { ref $_[0] eq 'Test::IotHub::Redis::Error' }

# A reply as text: 1, text, (nil), (error) message, [a, b].
sub render {
    my $r = shift;
    return !defined $r ? '(nil)'
         : is_error($r) ? "(error) $$r"
         : ref $r eq 'ARRAY' ? '[' . join(', ', map { render($_) } @$r) . ']'
         : "$r";
}

# Splits a command line into words: bare words, 'single quoted' and
# "double quoted" with \n \r \t \0 \" \\ \xHH escapes.
sub words {
    my $line = shift;
    my %esc = (n => "\n", r => "\r", t => "\t", 0 => "\0");
    my @w;
    while ($line =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/gc) {
        my ($dq, $w) = ($1, $2 // $3);
        ($w = $dq) =~ s/\\(x[0-9a-fA-F]{2}|.)/length $1 > 1
            ? chr hex substr($1, 1) : $esc{$1} \/\/ $1/ge if defined $dq;
        push @w, $w;
    }
    return @w;
}

1;
