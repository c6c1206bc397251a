# A client that stalls before its AMQP open frame (nothing sent, half a
# protocol header, the SASL header and no more) is closed once
# iothub_amqp_idle_timeout has passed since the connection started: Proton's
# idle timeout only starts with the open frame, so such a connection used to
# be held for ever. A client whose open frame came in time is served.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

require_modules(qw(core http amqp));

# seconds until the hub closes $sock (reads and drops what it sends)
sub closed_after {
    my ($sock, $start, $limit) = @_;
    my $sel = IO::Select->new($sock);
    while (time - $start < $limit) {
        next unless $sel->can_read(0.2);
        my $n = sysread($sock, my $buf, 4096);
        return time - $start if !$n;
    }
    return undef;
}

run_tests();

__DATA__

=== TEST 1: no open frame within the idle timeout: closed
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; iothub_amqp_idle_timeout 1s; }"
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my %first = (
        'nothing'       => '',
        'half a header' => 'AMQ',
        'SASL header'   => "AMQP\x03\x01\x00\x00",
        'AMQP header'   => "AMQP\x00\x01\x00\x00",
    );
    my $start = time;
    my %sock;
    for my $k (sort keys %first) {
        $sock{$k} = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$AMQP_PORT")
            or die "connect: $!";
        syswrite($sock{$k}, $first{$k}) if length $first{$k};
    }
    for my $k (sort keys %first) {
        my $after = closed_after($sock{$k}, $start, 6);
        ok(defined $after && $after >= 0.9,
           "$t: $k: closed after the idle timeout")
            or diag($after // 'still open after 6 s');
    }
}]]
--- error_log
no open frame in time
--- no_error_log
[alert]

=== TEST 2: an open frame in time: the connection is served past the deadline
--- stream_config eval
"server { listen 127.0.0.1:$AMQP_PORT; iothub_amqp test; iothub_amqp_idle_timeout 2s; }"
--- request eval
[put_device('dev1')]
--- mqtt eval
[[perl => sub {
    my (undef, $t) = @_;
    my $c = amqp_client();
    my $r = $c->cmd(op => 'cbs', audience => 'localhost%2Fdevices%2Fdev1',
                    token => device_token('dev1'));
    is($r->{status}, 200, "$t: put-token");
    # frames in less than the idle timeout, the last one past the deadline
    for my $i (1, 2) {
        select(undef, undef, undef, 1.2);
        $r = $c->cmd(op => 'cbs', audience => 'localhost%2Fdevices%2Fdev1',
                     token => device_token('dev1'));
        is($r->{status}, 200, "$t: put-token again after ${i}.2 s more")
            or diag(Test::More::explain($r));
    }
    $c->close;
}]]
--- no_error_log
no open frame in time
[alert]
