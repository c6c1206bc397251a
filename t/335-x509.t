# X.509 device authentication over MQTT/TLS (reference/auth.md 5; issue 8,
# defect 8): selfSigned identities by thumbprint, certificateAuthority
# identities by a chain to the trusted CA and a common name equal to the
# device id (the module id for modules).  A common name holding a NUL byte
# or a subject with two common names is refused, however the rest reads.
#
# The PKI is made for this file with scripts/gen-certs.sh and openssl: CA A
# (trusted by the server, signs its certificate too), CA B (not trusted),
# devices signed by each, self-signed devices.  The device side is
# mosquitto_pub with --cert/--key; the stream server listens with TLS on
# the port node 2 would use.

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::X509;


require_modules(qw(core http mqtt));

plan(skip_all => 'mosquitto_pub or openssl not found')
    if grep { system("command -v $_ >/dev/null 2>&1") != 0 }
            qw(mosquitto_pub openssl);

our $V = 'api-version=2021-04-12';
our $AUTH_X509 = '{"scope":"device","type":"x509Certificate",'
               . '"issuer":"iothub","acceptingIpFilterRule":null}';

our $GEN = $GEN_CERTS;
our $A = x509_pki('x509-a');
our $B = x509_pki('x509-b');
our (%TP, $TLS_PORT);

# A certificate of CA A with any subject: openssl's -subj cannot write a
# NUL byte, so a placeholder name is patched in the DER, the certificate
# self-signed again, then issued by the CA.
sub ca_signed {
    my ($name, $subj, $from, $to) = @_;
    my $p = "$A/$name";
    run_sh("printf '[req]\\ndistinguished_name = dn\\n[dn]\\n' > $p.cnf");
    run_sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
           . " -out $p.key");
    run_sh("openssl req -new -x509 -config $p.cnf -key $p.key -days 30"
           . " -subj '$subj' -outform DER -out $p.der");
    if (defined $from) {
        open my $fh, '<:raw', "$p.der" or die "$p.der: $!\n";
        my $der = do { local $/; <$fh> };
        close $fh;
        die "x509 test setup: $from not in $p.der\n"
            unless $der =~ s/\Q$from\E/$to/g;
        open $fh, '>:raw', "$p.der" or die "$p.der: $!\n";
        print $fh $der;
        close $fh;
    }
    run_sh("openssl x509 -inform DER -in $p.der -signkey $p.key"
           . " -out $p.self.crt");
    run_sh("openssl x509 -in $p.self.crt -CA $A/ca.crt -CAkey $A/ca.key"
           . " -set_serial 0x\$(openssl rand -hex 8) -days 30 -out $p.crt");
}

run_sh("$GEN $A device $_") for qw(dev1 dev2 m1);
run_sh("$GEN $B device dev1");
$TP{$_} = run_sh("$GEN $A selfsigned $_") for qw(ss1 ss2);
$TP{ss1_sha256} = run_sh("openssl x509 -in $A/selfsigned-ss1.crt -noout"
                         . " -fingerprint -sha256 | sed 's/^.*=//; s/://g'");

# CN "dev1\0evil": a C string comparison would read "dev1"
ca_signed('nul', '/CN=dev1Zevil', 'dev1Zevil', "dev1\0evil");
# two CNs, the device id first: reading only the first would accept it
ca_signed('two', '/CN=dev1/CN=dev2');

$TLS_PORT = (node_port(2))[1];

sub tls_server {
    return join "\n", "listen 127.0.0.1:$TLS_PORT ssl;",
                      "ssl_certificate $A/server.crt;",
                      "ssl_certificate_key $A/server.key;",
                      'ssl_verify_client optional_no_ca;',
                      "ssl_trusted_certificate $A/ca.crt;",
                      'iothub_mqtt test;';
}

# One QoS 1 message from $id over TLS with the certificate $crt (a path
# without .crt/.key; undef: none); mosquitto_pub's exit status and output.
sub mosq {
    my ($id, $crt, $payload) = @_;
    my ($device, $module) = split m{/}, $id;
    my $topic = defined $module
        ? "devices/$device/modules/$module/messages/events/"
        : "devices/$device/messages/events/";
    my @cmd = ('timeout', '20', 'mosquitto_pub', '-h', '127.0.0.1',
               '-p', $TLS_PORT, '-V', 'mqttv311', '--cafile', "$A/ca.crt",
               (defined $crt ? ('--cert', "$crt.crt", '--key', "$crt.key")
                             : ()),
               '-i', $id, '-u', "localhost/$id/?$V", '-t', $topic,
               '-q', '1', '-m', $payload // 'hi');
    my $cmd = join ' ', map { quotemeta } @cmd;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

# The mqtt steps: $id connects with $crt and its message is stored.
sub accepted {
    my ($id, $crt) = @_;
    my ($device, $module) = split m{/}, $id;
    my $auth = defined $module ? $AUTH_X509 =~ s/"device"/"module"/r
                               : $AUTH_X509;
    return ([perl => sub {
                my (undef, $t) = @_;
                my ($rc, $out) = mosq($id, $crt, "from $id");
                is($rc, 0, "$t: mosquitto_pub as $id succeeds") or diag($out);
             }],
            [d2c => [{'a:iothub-connection-device-id' => $device,
                      'a:iothub-connection-module-id' => $module,
                      'a:iothub-connection-auth-method' => $auth,
                      body => "from $id"}]]);
}

# The mqtt steps: $id is refused with CONNACK 5 and nothing is stored.
sub refused {
    my ($id, $crt) = @_;
    return ([perl => sub {
                my (undef, $t) = @_;
                my ($rc, $out) = mosq($id, $crt);
                isnt($rc, 0, "$t: mosquitto_pub as $id fails");
                like($out, qr/Connection Refused: not authori[sz]ed/,
                     "$t: CONNACK 5 (not authorized)");
             }],
            [d2c => []]);
}

run_tests();

__DATA__

=== TEST 1: selfSigned by the SHA-1 thumbprint: connected, the message says x509Certificate
--- stream_server_config eval: tls_server()
--- request eval: put_x509('ss1', 'selfSigned', $TP{ss1})
--- mqtt eval: [accepted('ss1', "$A/selfsigned-ss1")]
--- error_log
"ss1" connected
--- no_error_log
CONNECT refused
[error]



=== TEST 2: selfSigned by the SHA-256 thumbprint in lower case, as the secondary
--- stream_server_config eval: tls_server()
--- request eval: put_x509('ss1', 'selfSigned', $TP{ss2}, lc $TP{ss1_sha256})
--- mqtt eval: [accepted('ss1', "$A/selfsigned-ss1")]
--- no_error_log
CONNECT refused
[error]



=== TEST 3: selfSigned, another certificate's thumbprint: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_x509('ss1', 'selfSigned', $TP{ss2})
--- mqtt eval: [refused('ss1', "$A/selfsigned-ss1")]
--- error_log
CONNECT refused with 5, the client certificate's thumbprint is not registered, client "ss1"



=== TEST 4: certificateAuthority, CN = device id: connected
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [accepted('dev1', "$A/device-dev1")]
--- error_log
"dev1" connected
--- no_error_log
CONNECT refused
[error]



=== TEST 5: certificateAuthority, the certificate of another device (CN dev2): CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev2', 'certificateAuthority')]
--- mqtt eval: [refused('dev1', "$A/device-dev2")]
--- error_log
CONNECT refused with 5, the client certificate's common name is not the identity's id, client "dev1"



=== TEST 6: certificateAuthority, CN = device id but signed by an untrusted CA: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [refused('dev1', "$B/device-dev1")]
--- error_log
CONNECT refused with 5, the client certificate does not chain to a trusted CA, client "dev1"



=== TEST 7: certificateAuthority, CN "dev1\0evil" (the device id, a NUL byte, more): CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [refused('dev1', "$A/nul")]
--- error_log
CONNECT refused with 5, the client certificate's common name holds a NUL byte, client "dev1"



=== TEST 8: certificateAuthority, two CNs, the device id first: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [refused('dev1', "$A/two")]
--- error_log
CONNECT refused with 5, the client certificate's subject has more than one common name, client "dev1"



=== TEST 9: certificateAuthority module, CN = module id: connected
--- stream_server_config eval: tls_server()
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev1/m1', 'certificateAuthority')]
--- mqtt eval: [accepted('dev1/m1', "$A/device-m1")]
--- error_log
"dev1/m1" connected
--- no_error_log
CONNECT refused
[error]



=== TEST 10: certificateAuthority module, CN = its device's id: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev1/m1', 'certificateAuthority')]
--- mqtt eval: [refused('dev1/m1', "$A/device-dev1")]
--- error_log
CONNECT refused with 5, the client certificate's common name is not the identity's id, client "dev1/m1"



=== TEST 11: a SAS device presenting a certificate and no password: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_device('dev1')
--- mqtt eval: [refused('dev1', "$A/device-dev1")]
--- error_log
CONNECT refused with 5, the identity does not authenticate with certificates, client "dev1"



=== TEST 12: no certificate and no password over TLS: CONNACK 5
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [refused('dev1', undef)]
--- error_log
CONNECT refused with 5, no SAS token in the password and no client certificate, client "dev1"



=== TEST 13: ssl_client_certificate: each connection drops its copy of the CA names once connected; later handshakes still send them
--- stream_server_config eval
tls_server() =~ s/ssl_trusted_certificate/ssl_client_certificate/r
--- request eval
[put_x509('dev1', 'certificateAuthority'), put_x509('dev2', 'certificateAuthority')]
--- mqtt eval
[accepted('dev1', "$A/device-dev1"),
 [perl => sub {
     my (undef, $t) = @_;
     my ($rc, $out) = mosq('dev2', "$A/device-dev2", 'from dev2');
     is($rc, 0, "$t: mosquitto_pub as dev2 succeeds") or diag($out);
     my $cmd = "timeout 10 openssl s_client -connect 127.0.0.1:$TLS_PORT"
               . " -CAfile $A/ca.crt </dev/null 2>&1";
     my $s = qx{$cmd};
     like($s, qr/Acceptable client certificate CA names\n[^\n]*CN\s*=/,
          "$t: a later handshake still names the CA") or diag($s);
  }]]
--- error_log
"dev1" connected
"dev2" connected
--- no_error_log
CONNECT refused
[error]



=== TEST 14: a device taken over while it publishes: its connection closes without waiting for its close_notify, and nothing is logged at crit
The kicked device is still sending when the hub closes; waiting for its
TLS close_notify made SSL_shutdown() read that data and fail with
"application data after close notify", logged at crit for every takeover.
--- stream_server_config eval: tls_server()
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval
[[perl => sub {
     my (undef, $t) = @_;
     my @tls = ('-h', '127.0.0.1', '-p', $TLS_PORT, '-V', 'mqttv311',
                '--cafile', "$A/ca.crt", '--cert', "$A/device-dev1.crt",
                '--key', "$A/device-dev1.key", '-i', 'dev1',
                '-u', "localhost/dev1/?$V",
                '-t', 'devices/dev1/messages/events/');
     my $flood = join ' ', map { quotemeta }
                     ('timeout', '20', 'mosquitto_pub', @tls, '-q', '0',
                      '-m', 'flood', '--repeat', '1000000');
     # the first connection publishes without a pause
     open(my $first, '-|', "$flood 2>&1; echo exit=\$?")
         or die "mosquitto_pub: $!";
     my $seen = 0;
     for (1 .. 100) {
         $seen = redis_cmd('EXISTS', 'iothub:test:{dev1}:presence');
         last if $seen;
         select(undef, undef, undef, 0.05);
     }
     ok($seen, "$t: the first connection is up");
     select(undef, undef, undef, 0.3);
     my ($rc, $out) = mosq('dev1', "$A/device-dev1", 'takeover');
     is($rc, 0, "$t: the second connection publishes") or diag($out);
     my $first_out = do { local $/; <$first> };
     close $first;
     unlike($first_out, qr/exit=124/, "$t: the first was closed, not timed out")
         or diag($first_out);
  }]]
--- error_log
"dev1" connected
--- no_error_log
[crit]
[alert]
