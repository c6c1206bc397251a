package Test::IotHub::SAS;

# Shared access policies of the test hub and SAS tokens for the harness
# (reference/auth.md section 3).  Keys are fixed test values: 32 random
# bytes each, base64.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use Exporter 'import';
use MIME::Base64 qw(encode_base64 decode_base64);

our @EXPORT_OK = qw(sas_token auth_header @POLICIES %POLICY_KEYS $DEVICE_KEY);

# name, permissions, primary key, secondary key
our @POLICIES = (
    [iothubowner => 'registry_write service_connect device_connect',
     'WLH9O9710Dm5jHWf33b1HpHgi3hSXV1KAd3qzrNOlXs=',
     'sraIZ/BGJcAfkXgcUiX1rdvoAa0ZO46U2Tb7pL08YjI='],
    [service => 'service_connect',
     'UbWPqexs5zfakRFceJnxsHGNnpRO8wv7T9sVHS5bt90=',
     'F+dLwebezWwAQrBo45Vfid/jbi8aJMwlrJvl9rJhvBE='],
    [device => 'device_connect',
     'qecHVg4o2czTQ0GFnqaY2BIMOQGWiNDhOTOngCy93Jw=',
     'L78jqgeAYdoFqP2vpPiBFf/clUKoPlFcKnCQsD9HB6k='],
    [registryRead => 'registry_read',
     'm3Ox6FtIbC57D7tbbD7ZA0CId8YCETSDbnbwL9/ROec=',
     'Q8z6nZGqdwbo+RuEld7j2sHLbKhTetmvXEG8qwkLqHw='],
    [registryReadWrite => 'registry_read registry_write',
     'qqhZtbc2YjgAjBh/C0UA/wvSThrOzw+GjElADsFQ9hA=',
     'oBv7xpYEnFVJvwkz33VVHJwmdux7fSUVD+REOKhgna4='],
);

# name => [primary, secondary]
our %POLICY_KEYS = map { ($_->[0] => [@$_[2, 3]]) } @POLICIES;

# Default key of device tokens (auth "device:<id>", sas_token('dev1')).
our $DEVICE_KEY = 'UNErOFobWTTkV9ElWooEWBh/W/n4C6wwRyWQIyQAVeU=';

sub _uri_escape {   # encodeURIComponent, upper-case hex
    (my $s = shift) =~ s/([^A-Za-z0-9\-_.!~*'()])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# sas_token(policy => 'service') | sas_token('dev1', expiry => 1) |
# sas_token(resource => 'host/devices/d', key => $base64, expiry => $epoch,
# ttl => 3600, device => 'd', module => 'm', host => 'localhost',
# raw_key => 1).  Without device or resource it is a hub-wide iothubowner
# token.  The HMAC key is the base64-decoded key, or with raw_key the key's
# text (the Event Hubs endpoint, auth.md 3.2); sr is signed as it is sent.
sub sas_token {
    unshift @_, 'device' if @_ % 2;
    my %a = @_;
    my $res = $a{resource} // join '', $a{host} // 'localhost',
        map { defined $a{$_} ? "/${_}s/$a{$_}" : '' } qw(device module);
    my $policy = exists $a{policy} ? $a{policy}
               : defined $a{device} || defined $a{resource} ? undef
               : 'iothubowner';
    my $key = $a{key} // ($policy ? $POLICY_KEYS{$policy}[0] : $DEVICE_KEY)
        // die "sas_token: no key for policy '$policy'\n";
    my $se = $a{expiry} // int(time) + ($a{ttl} // 3600);
    my $sr = _uri_escape($res);
    my $sig = encode_base64(hmac_sha256("$sr\n$se",
                                        $a{raw_key} ? $key
                                                    : decode_base64($key)), '');
    return "SharedAccessSignature sr=$sr&sig=" . _uri_escape($sig) . "&se=$se"
        . (defined $policy ? '&skn=' . _uri_escape($policy) : '');
}

# The Authorization value for a block's "--- auth": iothubowner (default),
# none (undef), expired, forged, <policy>, device:<id>[:<base64 key>], or
# a literal "SharedAccessSignature ..." token.
sub auth_header {
    my $auth = shift;
    return undef if $auth eq 'none';
    return $auth if $auth =~ /^SharedAccessSignature /;
    return sas_token(expiry => int(time) - 60) if $auth eq 'expired';
    return sas_token(key => encode_base64('forged' x 6, '')) if $auth eq 'forged';
    return sas_token(device => $1, key => $2 // $DEVICE_KEY)
        if $auth =~ /^device:([^:]+)(?::(.+))?$/;
    return sas_token(policy => $auth) if $POLICY_KEYS{$auth};
    die "unknown auth '$auth'\n";
}

1;
