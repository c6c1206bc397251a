package Test::IotHub::MQTT;

# MQTT 3.1.1 for the test harness, in the style of Mosquitto's tests: frame
# builders that return the exact bytes of a packet, a describer for
# failure messages, device SAS tokens, REST request specs that register
# identities, and a small blocking client over raw TCP.  The step runner
# of "--- mqtt" sections is in Test::IotHub; see t/lib/README.md.
#
#   mqtt_connect(device => 'dev1')   # id, user name and token filled in
#   mqtt_connack(0, 1)               # "\x20\x02\x01\x00"
#   mqtt_publish(topic => 'devices/dev1/messages/events/', qos => 1,
#                id => 7, payload => 'x')

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';

use Test::IotHub::SAS qw(sas_token $DEVICE_KEY);

our @EXPORT_OK = qw(mqtt_connect mqtt_connack mqtt_publish mqtt_puback
    mqtt_subscribe mqtt_suback mqtt_unsubscribe mqtt_unsuback mqtt_pingreq
    mqtt_pingresp mqtt_disconnect mqtt_packet mqtt_string mqtt_length
    mqtt_describe mqtt_hex mqtt_refused device_token put_device put_module
    $DEVICE_KEY2 $API_VERSION);

# The secondary key of identities made with put_device/put_module (the
# primary is $DEVICE_KEY).
our $DEVICE_KEY2 = 'hZ0X8cHv5VhMQ1b6xJZkQpC6yO2G1d3Rj8e4wY7nT0s=';
our $API_VERSION = '2021-04-12';

my @TYPES = qw(RESERVED0 CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL
               PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE UNSUBACK PINGREQ
               PINGRESP DISCONNECT RESERVED15);

# --- frames ----------------------------------------------------------------

# The remaining length encoding (MQTT 2.2.3).
sub mqtt_length {
    my $n = shift;
    my $s = '';
    do {
        my $byte = $n % 128;
        $n = int($n / 128);
        $s .= chr($byte | ($n ? 0x80 : 0));
    } while $n;
    return $s;
}

# A UTF-8 string with its two-byte length (MQTT 1.5.3); bytes stay bytes.
sub mqtt_string {
    my $s = shift // '';
    utf8::encode($s) if utf8::is_utf8($s);
    return pack('n', length $s) . $s;
}

# A packet from its first byte (type << 4 | flags) and its body.
sub mqtt_packet {
    my ($first, $body) = @_;
    $body //= '';
    return chr($first) . mqtt_length(length $body) . $body;
}

# CONNECT: id, user, password (absent when not given or undef), clean
# (default 1), keepalive (default 60), level (default 4; 3 sends "MQIsdp"),
# proto, will => [topic, payload, qos, retain], flags (raw override).
# device => 'd' [, module => 'm', key => $base64, expiry => $epoch] fills
# in whatever of id, user and password is not given: "d[/m]",
# "localhost/d[/m]/?api-version=...", and a device token.
sub mqtt_connect {
    my %a = @_;
    if (defined $a{device}) {
        my $cid = $a{device} . (defined $a{module} ? "/$a{module}" : '');
        $a{id} = $cid unless exists $a{id};
        $a{user} = "localhost/$cid/?api-version=$API_VERSION"
            unless exists $a{user};
        $a{password} = device_token(map { exists $a{$_} ? ($_ => $a{$_}) : () }
                                    qw(device module key expiry ttl))
            unless exists $a{password};
    }
    my $level = $a{level} // 4;
    my $proto = $a{proto} // ($level == 3 ? 'MQIsdp' : 'MQTT');
    my $flags = ($a{clean} // 1) ? 0x02 : 0;
    my $will = '';
    if (my $w = $a{will}) {
        my ($topic, $payload, $qos, $retain) = @$w;
        $flags |= 0x04 | (($qos // 0) << 3) | ($retain ? 0x20 : 0);
        $will = mqtt_string($topic) . mqtt_string($payload);
    }
    $flags |= 0x80 if defined $a{user};
    $flags |= 0x40 if defined $a{password};
    $flags = $a{flags} if defined $a{flags};
    return mqtt_packet(0x10, mqtt_string($proto) . chr($level) . chr($flags)
        . pack('n', $a{keepalive} // 60) . mqtt_string($a{id}) . $will
        . (defined $a{user} ? mqtt_string($a{user}) : '')
        . (defined $a{password} ? mqtt_string($a{password}) : ''));
}

sub mqtt_connack {
    my ($code, $present) = @_;
    return "\x20\x02" . chr($present ? 1 : 0) . chr($code // 0);
}

# PUBLISH: topic, payload, qos, id (required with QoS 1 and 2), retain, dup.
sub mqtt_publish {
    my %a = @_;
    my $qos = $a{qos} // 0;
    croak 'mqtt_publish: QoS > 0 needs an id' if $qos && !exists $a{id};
    my $payload = $a{payload} // '';
    utf8::encode($payload) if utf8::is_utf8($payload);
    return mqtt_packet(0x30 | ($a{dup} ? 0x08 : 0) | ($qos << 1)
                       | ($a{retain} ? 1 : 0),
                       mqtt_string($a{topic})
                       . (exists $a{id} ? pack('n', $a{id}) : '')
                       . $payload);
}

sub mqtt_puback { return "\x40\x02" . pack('n', shift) }

# SUBSCRIBE: mqtt_subscribe($id, [$filter, $qos], ...); a plain filter
# asks for QoS 0.
sub mqtt_subscribe {
    my ($id, @subs) = @_;
    return mqtt_packet(0x82, pack('n', $id) . join '', map {
        my ($f, $q) = ref $_ ? @$_ : ($_, 0);
        mqtt_string($f) . chr($q // 0);
    } @subs);
}

sub mqtt_suback {
    my ($id, @codes) = @_;
    return mqtt_packet(0x90, pack('n', $id) . join '', map { chr } @codes);
}

sub mqtt_unsubscribe {
    my ($id, @filters) = @_;
    return mqtt_packet(0xa2, pack('n', $id)
                             . join '', map { mqtt_string($_) } @filters);
}

sub mqtt_unsuback   { return "\xb0\x02" . pack('n', shift) }
sub mqtt_pingreq    { return "\xc0\x00" }
sub mqtt_pingresp   { return "\xd0\x00" }
sub mqtt_disconnect { return "\xe0\x00" }

# --- describing bytes, for failure messages ---------------------------------

sub mqtt_hex {
    my ($s, $max) = @_;
    $max //= 96;
    my $hex = join ' ', map { sprintf '%02x', ord } split //,
                        substr($s, 0, $max);
    return $hex . (length $s > $max ? ' ... (' . length($s) . ' bytes)' : '');
}

sub _printable {
    my ($s, $max) = @_;
    $max //= 60;
    my $t = substr($s, 0, $max) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ger;
    return "\"$t\"" . (length $s > $max ? '...' : '');
}

sub _connect_fields {   # a CONNECT body as text, as far as it parses
    my $b = shift;
    my @f;
    my $str = sub {
        return undef if length $b < 2;
        my $l = unpack 'n', $b;
        return undef if length $b < 2 + $l;
        my $v = substr($b, 2, $l);
        substr($b, 0, 2 + $l, '');
        return $v;
    };
    my $proto = $str->() // return mqtt_hex($b);
    return 'proto=' . _printable($proto) . ' ' . mqtt_hex($b) if length $b < 4;
    my ($level, $flags, $ka) = unpack 'CCn', substr($b, 0, 4, '');
    push @f, 'proto=' . _printable($proto), "level=$level",
             sprintf('flags=0x%02x', $flags), "keepalive=$ka";
    for my $f (['id', 1], ['will-topic', $flags & 4], ['will', $flags & 4],
               ['user', $flags & 0x80], ['password', $flags & 0x40]) {
        next unless $f->[1];
        my $v = $str->();
        push @f, $f->[0] . '=' . (defined $v ? _printable($v, 120) : '(missing)');
    }
    push @f, 'trailing ' . mqtt_hex($b) if length $b;
    return join ' ', @f;
}

# The packets in $bytes, one a line: "CONNACK present=0 rc=5",
# "PUBLISH qos=1 id=3 topic=... payload=...", "incomplete: <hex>".
sub mqtt_describe {
    my $s = shift // '';
    return '(nothing)' if $s eq '';
    my @out;
    while (length $s) {
        my ($len, $i, $mult) = (0, 1, 1);
        while ($i < length $s && $i < 5) {
            my $b = ord substr($s, $i++, 1);
            $len += ($b & 0x7f) * $mult;
            $mult *= 128;
            last unless $b & 0x80;
        }
        my $first = ord $s;
        if ($i >= length $s && $len > 0 || $i + $len > length $s) {
            push @out, 'incomplete: ' . mqtt_hex($s);
            last;
        }
        my $body = substr($s, $i, $len);
        my $pkt = substr($s, 0, $i + $len, '');
        my ($type, $flags) = ($first >> 4, $first & 15);
        my $d = $TYPES[$type] . ($flags && $type != 3 ? sprintf(' flags=%x', $flags) : '');
        if ($type == 1) {
            $d .= ' ' . _connect_fields($body);
        } elsif ($type == 2 && $len == 2) {
            $d .= sprintf ' present=%d rc=%d', unpack 'CC', $body;
        } elsif ($type == 3 && $len >= 2) {
            my $tl = unpack 'n', $body;
            my $qos = ($flags >> 1) & 3;
            my $topic = substr($body, 2, $tl);
            my $rest = substr($body, 2 + $tl);
            my $id = $qos && length $rest >= 2 ? unpack('n', substr($rest, 0, 2, '')) : undef;
            $d .= " qos=$qos" . ($flags & 8 ? ' dup' : '') . ($flags & 1 ? ' retain' : '')
                . (defined $id ? " id=$id" : '') . ' topic=' . _printable($topic, 200)
                . ' payload=' . (length $rest > 200 ? length($rest) . ' bytes'
                                 : _printable($rest));
        } elsif (($type >= 4 && $type <= 7 || $type == 11) && $len == 2) {
            $d .= ' id=' . unpack 'n', $body;
        } elsif ($type == 9 && $len >= 2) {
            $d .= ' id=' . unpack('n', $body) . ' codes='
                . join ',', map { sprintf '0x%02x', ord } split //, substr($body, 2);
        } elsif ($len) {
            $d .= ' ' . mqtt_hex($pkt);
        }
        push @out, $d;
    }
    return join "\n", @out;
}

# --- tokens and identities --------------------------------------------------

# A device or module SAS token: device_token('dev1') or device_token(
# device => 'dev1', module => 'm1', key => $base64 (default $DEVICE_KEY),
# expiry => $epoch or ttl => $seconds (default one hour)).
sub device_token {
    unshift @_, 'device' if @_ % 2;
    my %a = @_;
    croak 'device_token: no device' unless defined $a{device};
    return sas_token(%a, key => $a{key} // $DEVICE_KEY);
}

sub _id_escape {   # an id as a path segment
    return shift =~ s/([^A-Za-z0-9\-_.!~*'()])/sprintf '%%%02X', ord $1/ger;
}

sub _auth_json {
    my %o = @_;
    my $type = $o{type} // 'sas';
    return sprintf '"authentication":{"type":"sas","symmetricKey":'
                   . '{"primaryKey":"%s","secondaryKey":"%s"}}',
                   $o{key} // $DEVICE_KEY, $o{key2} // $DEVICE_KEY2
        if $type eq 'sas';
    return sprintf '"authentication":{"type":"%s","x509Thumbprint":'
                   . '{"primaryThumbprint":"%s","secondaryThumbprint":null}}',
                   $type, '0123456789abcdef' x 2 . '01234567'
        if $type eq 'selfSigned';
    return sprintf '"authentication":{"type":"%s"}', $type;
}

# The "mqtt" steps of a refused CONNECT: the CONNACK with $code, then the
# server closes.  $args as for a "connect" step.
sub mqtt_refused {
    my ($args, $code) = @_;
    return ([connect => $args, mqtt_connack($code)], [closed => 2]);
}

# The REST request (for "--- request eval" or a "request" step) that
# registers a device with the keys $DEVICE_KEY and $DEVICE_KEY2: options
# status => 'disabled', type => 'selfSigned' | 'certificateAuthority' |
# 'none', key => $base64, key2 => $base64.
sub put_device {
    my ($id, %o) = @_;
    my $body = sprintf '{"deviceId":"%s","status":"%s",%s}', $id,
                       $o{status} // 'enabled', _auth_json(%o);
    return {method => 'PUT', body => $body,
            path => '/devices/' . _id_escape($id) . "?api-version=$API_VERSION"};
}

# The same for a module of an existing device.
sub put_module {
    my ($device, $id, %o) = @_;
    my $body = sprintf '{"deviceId":"%s","moduleId":"%s",%s}', $device, $id,
                       _auth_json(%o);
    return {method => 'PUT', body => $body,
            path => '/devices/' . _id_escape($device) . '/modules/'
                    . _id_escape($id) . "?api-version=$API_VERSION"};
}

# --- a blocking client --------------------------------------------------------

package Test::IotHub::MQTT::Client;

use Errno qw(EAGAIN EINTR);
use IO::Select;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep time);

# Test::IotHub::MQTT::Client->new(port => $p, name => 'a'): connected, or
# undef with $@ set.
sub new {
    my ($class, %a) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $a{port}, Timeout => 5)
        or do { $@ = "connect to port $a{port}: $!"; return undef };
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $s->blocking(0);
    return bless {%a, sock => $s, buf => '', eof => 0}, $class;
}

# Writes all of $bytes (one write per $chunk bytes, $delay s apart, when
# given); returns '' or the error (EPIPE, ECONNRESET: the server closed).
sub send {
    my ($self, $bytes, $chunk, $delay) = @_;
    my $s = $self->{sock} or return 'not connected';
    $chunk ||= length $bytes || 1;
    my $off = 0;
    my $sel = IO::Select->new($s);
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, $chunk, $off);
        if (!defined $n) {
            return "write: $!" unless $! == EAGAIN || $! == EINTR;
            $sel->can_write(5) or return 'write: timeout';
            next;
        }
        $off += $n;
        sleep $delay if $delay && $off < length $bytes;
    }
    return '';
}

# Reads what arrives until $want->() is true, EOF or the deadline; returns
# 'ok', 'eof' or 'timeout'.  Bytes collect in $self->{buf}.
sub _fill {
    my ($self, $timeout, $want) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($self->{sock} // return 'eof');
    while (1) {
        return 'ok' if $want->();
        return 'eof' if $self->{eof};
        my $left = $deadline - time;
        unless ($sel->can_read($left > 0 ? $left : 0)) {
            return 'timeout' if $deadline <= time;
            next;
        }
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        next if !defined $n && ($! == EAGAIN || $! == EINTR);
        $self->{reset} = "$!" unless defined $n;
        $self->{eof} = 1 unless $n;
        return 'timeout' if $n && time > $deadline && !$want->();
    }
}

# Exactly $n bytes within $timeout: (bytes, 'ok') or (what came, status).
sub read_bytes {
    my ($self, $n, $timeout) = @_;
    my $st = $self->_fill($timeout, sub { length $self->{buf} >= $n });
    return (substr($self->{buf}, 0, $st eq 'ok' ? $n : length $self->{buf}, ''),
            $st);
}

# One whole packet within $timeout: (bytes, 'ok') or (what came, status).
sub read_packet {
    my ($self, $timeout) = @_;
    my $len = sub {   # the whole packet's length once the header is in
        my ($n, $m, $i) = (0, 1, 1);
        while ($i < length $self->{buf}) {
            my $b = ord substr($self->{buf}, $i++, 1);
            $n += ($b & 0x7f) * $m;
            $m *= 128;
            return $i + $n unless $b & 0x80;
            return 0 if $i > 4;
        }
        return undef;
    };
    my $st = $self->_fill($timeout, sub {
        my $l = $len->();
        defined $l && length $self->{buf} >= $l });
    my $l = $st eq 'ok' ? $len->() : length $self->{buf};
    return (substr($self->{buf}, 0, $l, ''), $st);
}

# Everything until the server closes, within $timeout: (bytes, 'eof') or
# (bytes, 'timeout').
sub read_all {
    my ($self, $timeout) = @_;
    my $st = $self->_fill($timeout, sub { 0 });
    return (substr($self->{buf}, 0, length $self->{buf}, ''), $st);
}

# Bytes already here (a poll without waiting).
sub pending {
    my $self = shift;
    $self->_fill(0, sub { 0 }) unless $self->{eof};
    return $self->{buf};
}

sub close {
    my $self = shift;
    close delete $self->{sock} if $self->{sock};
    $self->{eof} = 1;
}

sub DESTROY { $_[0]->close }

1;
