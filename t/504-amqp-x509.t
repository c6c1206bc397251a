# X.509 device authentication over AMQP/TLS (reference/amqp.md 1.1,
# auth.md 5): the C SDK's X.509 connection has no SASL and no CBS, only a
# TLS client certificate; other clients say SASL EXTERNAL.  A link to an
# identity's address with no token put for it authenticates the identity
# by the certificate, as MQTT does (t/335): selfSigned identities by
# thumbprint, certificateAuthority identities by a chain to the trusted CA
# and a common name equal to the id (the module id for modules).  A
# refused identity's link is refused with amqp:unauthorized-access.
#
# The client is python3-qpid-proton with a client certificate (amqps); the
# PKI is made for this file with scripts/gen-certs.sh: CA A (trusted by
# the server, signs its certificate too), CA B (not trusted).

use lib 't/lib';
use Test::IotHub;
use Test::IotHub::AMQP;
use Test::IotHub::X509;

require_modules(qw(core http amqp));

plan(skip_all => 'openssl not found')
    if system('command -v openssl >/dev/null 2>&1') != 0;

our $AUTH_X509 = '{"scope":"device","type":"x509Certificate",'
               . '"issuer":"iothub","acceptingIpFilterRule":null}';

our $A = x509_pki('amqp-x509-a');
our $B = x509_pki('amqp-x509-b');
our %TP;

run_sh("$GEN_CERTS $A device $_") for qw(dev1 dev2 m1);
run_sh("$GEN_CERTS $B device dev1");
$TP{$_} = run_sh("$GEN_CERTS $A selfsigned $_") for qw(ss1 ss2);

our $TLS_SERVER = join "\n", 'server {',
                  "listen 127.0.0.1:$AMQP_PORT ssl;",
                  "ssl_certificate $A/server.crt;",
                  "ssl_certificate_key $A/server.key;",
                  'ssl_verify_client optional_no_ca;',
                  "ssl_trusted_certificate $A/ca.crt;",
                  'iothub_amqp test;', '}';

# a TLS connection presenting $crt (a path without .crt/.key; undef: none)
sub tls_client {
    my ($crt, %o) = @_;
    return amqp_client(ca => "$A/ca.crt",
                       (defined $crt ? (cert => "$crt.crt", key => "$crt.key")
                                     : ()),
                       %o);
}

sub events { my ($d, $m) = @_;
             return "/devices/$d" . (defined $m ? "/modules/$m" : '')
                    . '/messages/events' }

# $id ("dev" or "dev/mod") sends one message with the certificate $crt
sub accepted {
    my ($id, $crt, %o) = @_;
    my ($device, $module) = split m{/}, $id;
    my $auth = defined $module ? $AUTH_X509 =~ s/"device"/"module"/r
                               : $AUTH_X509;
    return ([perl => sub {
                my (undef, $t) = @_;
                my $c = tls_client($crt, %o);
                my $r = $c->cmd(op => 'sender', name => 'a',
                                address => events($device, $module));
                ok($r->{ok}, "$t: link of $id attached")
                    or diag(Test::More::explain($r));
                $r = $c->cmd(op => 'send', name => 'a',
                             messages => [{body => "from $id"}]);
                is_deeply($r->{outcomes}, ['accepted'], "$t: accepted")
                    or diag(Test::More::explain($r));
                $c->close;
             }],
            [d2c => [{'a:iothub-connection-device-id' => $device,
                      'a:iothub-connection-module-id' => $module,
                      'a:iothub-connection-auth-method' => $auth,
                      body => "from $id"}]]);
}

# $id's link is refused with the certificate $crt; nothing is stored
sub refused {
    my ($id, $crt) = @_;
    my ($device, $module) = split m{/}, $id;
    return ([perl => sub {
                my (undef, $t) = @_;
                my $c = tls_client($crt);
                my $r = $c->cmd(op => 'sender', name => 'a',
                                address => events($device, $module));
                is($r->{error}, 'amqp:unauthorized-access',
                   "$t: link of $id refused")
                    or diag(Test::More::explain($r));
                $c->close;
             }],
            [d2c => []]);
}

run_tests();

__DATA__

=== TEST 1: certificateAuthority, CN = device id, no SASL (the C SDK's way): telemetry stored
--- stream_config eval: $::TLS_SERVER
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [accepted('dev1', "$A/device-dev1")]
--- error_log
"dev1" authenticated
--- no_error_log
[error]

=== TEST 2: selfSigned by thumbprint, with SASL EXTERNAL
--- stream_config eval: $::TLS_SERVER
--- request eval: put_x509('ss1', 'selfSigned', $TP{ss1})
--- mqtt eval: [accepted('ss1', "$A/selfsigned-ss1", sasl => 'EXTERNAL')]
--- no_error_log
[error]

=== TEST 3: selfSigned, another certificate's thumbprint: refused
--- stream_config eval: $::TLS_SERVER
--- request eval: put_x509('ss1', 'selfSigned', $TP{ss2})
--- mqtt eval: [refused('ss1', "$A/selfsigned-ss1")]
--- error_log
the client certificate's thumbprint is not registered
--- no_error_log
[error]

=== TEST 4: certificateAuthority, another device's certificate (CN dev2): refused
--- stream_config eval: $::TLS_SERVER
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev2', 'certificateAuthority')]
--- mqtt eval: [refused('dev1', "$A/device-dev2")]
--- error_log
the client certificate's common name is not the identity's id
--- no_error_log
[error]

=== TEST 5: certificateAuthority, CN = device id but signed by an untrusted CA: refused
--- stream_config eval: $::TLS_SERVER
--- request eval: put_x509('dev1', 'certificateAuthority')
--- mqtt eval: [refused('dev1', "$B/device-dev1")]
--- error_log
the client certificate does not chain to a trusted CA
--- no_error_log
[error]

=== TEST 6: certificateAuthority module, CN = module id: telemetry stored
--- stream_config eval: $::TLS_SERVER
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev1/m1', 'certificateAuthority')]
--- mqtt eval: [accepted('dev1/m1', "$A/device-m1")]
--- no_error_log
[error]

=== TEST 7: a SAS device presenting a certificate: refused; no certificate and no token: refused
--- stream_config eval: $::TLS_SERVER
--- request eval
[put_device('dev1'), put_x509('dev2', 'certificateAuthority')]
--- mqtt eval
[refused('dev1', "$A/device-dev1"), refused('dev2', undef)]
--- error_log
the identity does not authenticate with certificates
--- no_error_log
[error]
