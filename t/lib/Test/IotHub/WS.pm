package Test::IotHub::WS;

# WebSocket (RFC 6455) for the behaviour tests: client frames, masked with
# a fixed key so that runs are byte-for-byte the same, and a client that
# carries MQTT over WebSocket behind the interface of
# Test::IotHub::MQTT::Client, so the "--- mqtt" steps run unchanged over
# it (a block with "--- websocket: mqtt" uses it for every connection).
#
#   ws_frame(payload => $bytes)                  # a masked binary frame
#   ws_frame(op => 9, payload => 'hi')           # a ping
#   ws_frame(op => 2, fin => 0, payload => 'a')  # a first fragment
#   ws_frame(mask => 0, ...), (rsv => 4), (len => $announced, ext => 64)

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha1_base64);
use Test::More ();

use Test::IotHub::MQTT ();

our @EXPORT_OK = qw(ws_frame ws_close ws_accept ws_closed ws_control
                    $WS_KEY);

our $WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';    # RFC 6455 1.3's nonce
my $GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
my $MASK = "\x37\xfa\x21\x3d";

# Sec-WebSocket-Accept for a key.
sub ws_accept {
    my $a = sha1_base64(shift() . $GUID);
    return $a . '=' x (-length($a) % 4);
}

# A client frame; see the top of the file.
sub ws_frame {
    my %a = (op => 2, fin => 1, mask => 1, rsv => 0, payload => '',
             ext => 0, @_);
    my $p = $a{payload};
    my $len = $a{len} // length $p;
    my $m = $a{mask} ? 0x80 : 0;
    my $h = chr(($a{fin} ? 0x80 : 0) | ($a{rsv} << 4) | $a{op});
    if ($a{ext} == 64 || $len > 65535) {
        $h .= chr($m | 127) . pack('Q>', $len);
    } elsif ($a{ext} == 16 || $len > 125) {
        $h .= chr($m | 126) . pack('n', $len);
    } else {
        $h .= chr($m | $len);
    }
    return $h . $p unless $a{mask};
    my $key = substr($MASK x (int(length($p) / 4) + 1), 0, length $p);
    return $h . $MASK . ($p ^ $key);
}

# A close frame's payload: code and reason.
sub ws_close {
    my ($code, $reason) = @_;
    return ws_frame(op => 8, payload => pack('n', $code) . ($reason // ''));
}

# A step: the server sends a close frame with $code (and nothing else),
# then closes the connection, within $timeout s (default 5).
sub ws_closed {
    my ($code, $timeout) = @_;
    return [perl => sub {
        my ($c, $t) = @_;
        my ($got, $st) = $c->read_all($timeout // 5);
        my $close = $c->{close};
        Test::More::ok($st eq 'eof' && $got eq '' && $close
                       && $close->[0] == $code && !$c->{bad},
                       "$t: closed with $code")
            or Test::More::diag("status $st, data "
                . Test::IotHub::MQTT::mqtt_hex($got) . ', close '
                . ($close ? "$close->[0] \"$close->[1]\"" : 'none')
                . ($c->{bad} ? ", bad frames: $c->{bad}" : ''));
    }];
}

# A step: the next control frame the server sends is $op with $payload.
sub ws_control {
    my ($op, $payload, $timeout) = @_;
    return [perl => sub {
        my ($c, $t) = @_;
        my $f = $c->read_control($timeout // 5);
        Test::More::ok($f && $f->[0] == $op && $f->[1] eq $payload,
                       "$t: control frame $op")
            or Test::More::diag($f ? "got op $f->[0] \"$f->[1]\""
                                   : 'no control frame');
    }];
}


package Test::IotHub::WS::Client;

# Test::IotHub::WS::Client->new(port => $p, name => 'a', protocol =>
# 'mqtt'): the handshake done, or undef with $@ set.  send() sends binary
# frames; the read methods see the payload of the server's data frames;
# control frames collect in {control} ([op, payload]), the close frame in
# {close} ([code, reason]); {bad} counts frames a server must not send.

use Time::HiRes qw(time);

our @ISA = ('Test::IotHub::MQTT::Client');

sub new {
    my ($class, %a) = @_;
    my $self = Test::IotHub::MQTT::Client::new($class, %a) or return undef;
    @$self{qw(raw control bad)} = ('', [], 0);
    my $path = $a{path} // '/$iothub/websocket';
    my $e = $self->send_raw("GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: $Test::IotHub::WS::WS_KEY\r\n"
        . "Sec-WebSocket-Version: 13\r\n"
        . "Sec-WebSocket-Protocol: " . ($a{protocol} // 'mqtt') . "\r\n\r\n");
    if ($e) { $@ = "handshake: $e"; return undef }
    my $st = $self->SUPER::_fill(5, sub { $self->{buf} =~ /\r\n\r\n/ });
    my ($head) = $self->{buf} =~ /^(.*?\r\n)\r\n/s;
    my $accept = Test::IotHub::WS::ws_accept($Test::IotHub::WS::WS_KEY);
    unless ($st eq 'ok' && $head =~ m{^HTTP/1\.1 101 }
            && $head =~ /\r\nSec-WebSocket-Accept: \Q$accept\E\r\n/i) {
        $@ = "handshake: no 101 with the right accept key: "
             . ($head // $self->{buf});
        return undef;
    }
    $self->{raw} = substr($self->{buf}, length($head) + 2);
    $self->{buf} = '';
    return $self;
}

# Bytes as they are (a crafted frame).
sub send_raw {
    my ($self, $bytes, $chunk, $delay) = @_;
    return Test::IotHub::MQTT::Client::send($self, $bytes, $chunk, $delay);
}

# Each $chunk bytes as a binary frame of its own, $delay s apart.
sub send {
    my ($self, $bytes, $chunk, $delay) = @_;
    $chunk ||= length $bytes || 1;
    for (my $off = 0; $off < length $bytes; $off += $chunk) {
        my $e = $self->send_raw(ws_frame_of(substr $bytes, $off, $chunk));
        return $e if $e;
        Time::HiRes::sleep($delay) if $delay && $off + $chunk < length $bytes;
    }
    return '';
}

sub ws_frame_of { Test::IotHub::WS::ws_frame(payload => shift) }

# As the MQTT client's, with server frames decoded out of {raw}.
sub _fill {
    my ($self, $timeout, $want) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($self->{sock} // return 'eof');
    while (1) {
        $self->_decode;
        return 'ok' if $want->();
        return 'eof' if $self->{eof};
        my $left = $deadline - time;
        unless ($sel->can_read($left > 0 ? $left : 0)) {
            return 'timeout' if $deadline <= time;
            next;
        }
        my $n = sysread($self->{sock}, $self->{raw}, 65536,
                        length $self->{raw});
        next if !defined $n && ($!{EAGAIN} || $!{EINTR});
        $self->{reset} = "$!" unless defined $n;
        $self->{eof} = 1 unless $n;
    }
}

sub _decode {
    my $self = shift;
    while (length $self->{raw} >= 2) {
        my ($b0, $b1) = unpack 'CC', $self->{raw};
        my ($len, $off) = ($b1 & 0x7f, 2);
        if ($len == 126) {
            return if length $self->{raw} < 4;
            ($len, $off) = (unpack('n', substr $self->{raw}, 2, 2), 4);
        } elsif ($len == 127) {
            return if length $self->{raw} < 10;
            ($len, $off) = (unpack('Q>', substr $self->{raw}, 2, 8), 10);
        }
        return if length $self->{raw} < $off + $len;
        my $p = substr $self->{raw}, $off, $len;
        substr($self->{raw}, 0, $off + $len, '');
        my $op = $b0 & 0x0f;
        $self->{bad}++ if $b1 & 0x80 || $b0 & 0x70 || $self->{close};
        if ($op == 2 || $op == 0) {
            $self->{buf} .= $p;
        } elsif ($op == 8) {
            $self->{close} = length $p >= 2
                ? [unpack('n', $p), substr($p, 2)] : [1005, ''];
        } else {
            push @{$self->{control}}, [$op, $p];
        }
    }
}

# The next control frame other than close, within $timeout: [op, payload].
sub read_control {
    my ($self, $timeout) = @_;
    $self->_fill($timeout, sub { @{$self->{control}} });
    return shift @{$self->{control}};
}

1;
