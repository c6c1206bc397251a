package Test::IotHub::X509;

# X.509 devices for the t/ suites (reference/auth.md 5): a PKI made for
# the test file with scripts/gen-certs.sh and openssl, and the registry
# requests of X.509 identities.
#
#   my $dir = x509_pki();                  # CA, server cert for localhost
#   run_sh("scripts/gen-certs.sh $dir device dev1");
#   put_x509('dev1', 'certificateAuthority');
#   put_x509('ss1', 'selfSigned', $thumbprint);

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

our @EXPORT = qw(x509_pki run_sh put_x509 $GEN_CERTS);

our $GEN_CERTS = dirname(__FILE__) . '/../../../../scripts/gen-certs.sh';

# A shell command that must succeed; its stdout.
sub run_sh {
    my $cmd = shift;
    my $out = qx{$cmd 2>/dev/null};
    die "x509 test setup failed: $cmd\n" if $?;
    chomp $out;
    return $out;
}

# A new directory with a CA and the server's certificate for localhost.
sub x509_pki {
    my $name = shift // 'x509';
    my $dir = tempdir("$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    run_sh("$GEN_CERTS $dir");
    return $dir;
}

# The registry PUT of an X.509 device, or module ("dev/mod").
sub put_x509 {
    my ($id, $type, $tp, $tp2) = @_;
    my ($device, $module) = split m{/}, $id;
    my $auth = $type eq 'selfSigned'
        ? sprintf('"x509Thumbprint":{"primaryThumbprint":"%s",'
                  . '"secondaryThumbprint":%s}', $tp,
                  defined $tp2 ? "\"$tp2\"" : 'null')
        : '"x509Thumbprint":{"primaryThumbprint":null,'
          . '"secondaryThumbprint":null}';
    my $body = sprintf '{"deviceId":"%s",%s"authentication":'
                       . '{"type":"%s",%s}}', $device,
                       defined $module ? "\"moduleId\":\"$module\"," : '',
                       $type, $auth;
    return {method => 'PUT', body => $body,
            path => "/devices/$device"
                    . (defined $module ? "/modules/$module" : '')
                    . '?api-version=2021-04-12'};
}

1;
