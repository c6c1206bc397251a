# X.509 devices on the HTTPS device endpoint (reference/auth.md 5,
# rest.md 14): without an Authorization header the TLS client certificate
# authenticates, as over MQTT (t/335-x509.t): certificateAuthority
# identities by a chain to the trusted CA and a common name equal to the
# id, selfSigned ones by thumbprint.  The server asks for a certificate
# (ssl_verify_client optional_no_ca) on the port node 2 would use; the
# device side is curl with --cert/--key.

use lib 't/lib';
use Test::IotHub;

use File::Basename qw(dirname);
use File::Temp qw(tempdir);

require_modules(qw(core http));

plan(skip_all => 'curl or openssl not found')
    if grep { system("command -v $_ >/dev/null 2>&1") != 0 } qw(curl openssl);

our $V = 'api-version=2020-09-30';
our $AUTH_X509 = '{"scope":"device","type":"x509Certificate",'
               . '"issuer":"iothub","acceptingIpFilterRule":null}';

our $GEN = dirname(__FILE__) . '/../scripts/gen-certs.sh';
our $A = tempdir('https-x509-a-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $B = tempdir('https-x509-b-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our (%TP, $TLS_PORT);

sub run_sh {   # a shell command that must succeed; its stdout
    my $cmd = shift;
    my $out = qx{$cmd 2>/dev/null};
    die "x509 test setup failed: $cmd\n" if $?;
    chomp $out;
    return $out;
}

run_sh("$GEN $A");
run_sh("$GEN $A device $_") for qw(dev1 dev2);
run_sh("$GEN $B device dev1");
$TP{$_} = run_sh("$GEN $A selfsigned $_") for qw(ss1 ss2);

$TLS_PORT = (node_port(2))[1];

sub tls_server {
    return join "\n", 'server {',
                      "    listen 127.0.0.1:$TLS_PORT ssl;",
                      '    server_name localhost;',
                      "    ssl_certificate $A/server.crt;",
                      "    ssl_certificate_key $A/server.key;",
                      '    ssl_verify_client optional_no_ca;',
                      "    ssl_trusted_certificate $A/ca.crt;",
                      '    location / { iothub_api test; }',
                      '}';
}

# The registry PUT of an X.509 device.
sub put_x509 {
    my ($id, $type, $tp) = @_;
    my $auth = $type eq 'selfSigned'
        ? qq("x509Thumbprint":{"primaryThumbprint":"$tp",)
          . '"secondaryThumbprint":null}'
        : '"x509Thumbprint":{"primaryThumbprint":null,'
          . '"secondaryThumbprint":null}';
    return {method => 'PUT', path => "/devices/$id?$V",
            body => qq({"deviceId":"$id","authentication":)
                    . qq({"type":"$type",$auth}})};
}

# curl over TLS with the certificate $crt (a path without .crt/.key;
# undef: none): the HTTP status, or curl's complaint.
sub curl {
    my ($method, $path, $crt, $body) = @_;
    my @cmd = ('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
               '--max-time', '10', '--cacert', "$A/ca.crt",
               '-X', $method,
               (defined $crt ? ('--cert', "$crt.crt", '--key', "$crt.key")
                             : ()),
               (defined $body ? ('--data-binary', $body,
                                 '-H', 'Content-Type:') : ()),
               "https://localhost:$TLS_PORT$path");
    my $cmd = join ' ', map { quotemeta } @cmd;
    my $out = qx{$cmd 2>&1};
    return $out;
}

# a step: curl's answer must be $status
sub step {
    my ($status, @args) = @_;
    return [perl => sub {
        my (undef, $t) = @_;
        is(curl(@args), $status, "$t: $args[0] $args[1] is $status");
    }];
}

run_tests();

__DATA__

=== TEST 1: a CA-signed device sends telemetry with its certificate: stamped x509Certificate; the same certificate on another device's route, an untrusted CA's and none are 401
--- http_config eval
tls_server()
--- request eval
[put_x509('dev1', 'certificateAuthority'),
 put_x509('dev2', 'certificateAuthority')]
--- error_code eval
[200, 200]
--- mqtt eval
[step(204, 'POST', "/devices/dev1/messages/events?$V", "$A/device-dev1",
      'x509 hello'),
 step(401, 'POST', "/devices/dev2/messages/events?$V", "$A/device-dev1",
      'no'),
 step(401, 'POST', "/devices/dev1/messages/events?$V", "$B/device-dev1",
      'no'),
 step(401, 'POST', "/devices/dev1/messages/events?$V", undef, 'no'),
 step(204, 'GET', "/devices/dev1/messages/deviceBound?$V",
      "$A/device-dev1"),
 [d2c => [{body => 'x509 hello', 'a:iothub-connection-device-id' => 'dev1',
           'a:iothub-connection-auth-method' => $AUTH_X509}]]]
--- error_log
device "dev2" unauthorized
device "dev1" unauthorized: no SAS token



=== TEST 2: a self-signed device by thumbprint; another self-signed certificate is 401
--- http_config eval
tls_server()
--- request eval
[put_x509('ss1', 'selfSigned', $TP{ss1})]
--- error_code: 200
--- mqtt eval
[step(204, 'POST', "/devices/ss1/messages/events?$V", "$A/selfsigned-ss1",
      'ss'),
 step(401, 'POST', "/devices/ss1/messages/events?$V", "$A/selfsigned-ss2",
      'no'),
 [d2c => [{body => 'ss', 'a:iothub-connection-device-id' => 'ss1',
           'a:iothub-connection-auth-method' => $AUTH_X509}]]]
