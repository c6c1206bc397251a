# Configuration of the core module (iothub{}, hub{}) and of iothub_api:
# each error fails `nginx -t` with a message naming the directive
# (docs/directives.md); then valid configurations that must start and serve.

use lib 't/lib';
use Test::IotHub;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use POSIX ();
use Time::HiRes qw(sleep);

our $KEY = $POLICY_KEYS{iothubowner}[0];
our $KEY2 = $POLICY_KEYS{iothubowner}[1];
our $DIR = tempdir('iothub-010-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# A hub{} body for hand-written iothub{} blocks.
sub hub {
    my ($name, @lines) = @_;
    @lines = ('hostname localhost;',
              "policy iothubowner $KEY $KEY2 registry_write;")
        unless @lines;
    return "    hub $name {\n" . join('', map { "        $_\n" } @lines)
           . "    }\n";
}

sub iothub {
    return "iothub {\n    redis 127.0.0.1:$TEST_REDIS_PORT;\n"
           . join('', @_) . "}\n";
}

# include files for the include block
open my $fh, '>', "$DIR/hub.conf" or die "$DIR/hub.conf: $!";
print $fh "hub test {\n    hostname localhost;\n"
        . "    include $DIR/policies.conf;\n}\n";
close $fh;
open $fh, '>', "$DIR/policies.conf" or die "$DIR/policies.conf: $!";
print $fh "policy iothubowner $KEY $KEY2 registry_write;\n";
close $fh;

# A second Redis on a UNIX-domain socket for the unix: block; stopped at
# the end of the file.
our $SOCK = "$DIR/redis.sock";
our $UNIX_REDIS;
my ($redis_server) = grep { -x } map { "$_/redis-server" }
                     split /:/, $ENV{PATH};
if ($redis_server) {
    $UNIX_REDIS = fork // die "fork: $!";
    if ($UNIX_REDIS == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec $redis_server, '--port', '0', '--unixsocket', $SOCK,
             '--save', '', '--appendonly', 'no', '--dir', $DIR,
             '--daemonize', 'no'
            or POSIX::_exit(127);
    }
    for (1 .. 250) {
        last if IO::Socket::UNIX->new(Peer => $SOCK);
        sleep 0.02;
    }
}

END {
    if ($UNIX_REDIS) {
        kill 'TERM', $UNIX_REDIS;
        waitpid $UNIX_REDIS, 0;
    }
}

run_tests();

__DATA__

=== TEST 1: unknown directive inside iothub{}
--- main_config eval
iothub("    redis_pool 4;\n", hub('test'))
--- must_die
--- error_log
unknown directive "redis_pool"



=== TEST 2: unknown directive inside hub{}
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'colour blue;'))
--- must_die
--- error_log
unknown directive "colour"



=== TEST 3: a hub{} directive at the iothub{} level
--- main_config eval
iothub("    hostname localhost;\n", hub('test'))
--- must_die
--- error_log
"hostname" directive is not allowed here



=== TEST 4: an iothub{} directive at the main level
--- main_config eval
"redis 127.0.0.1:$TEST_REDIS_PORT;\n" . iothub(hub('test'))
--- must_die
--- error_log
"redis" directive is not allowed here



=== TEST 5: hub without hostname
--- main_config eval
iothub(hub('test', "policy p $KEY registry_read;"))
--- must_die
--- error_log
no "hostname" directive in hub "test"



=== TEST 6: hub without policy
--- main_config eval
iothub(hub('test', 'hostname localhost;'))
--- must_die
--- error_log
no "policy" directive in hub "test"



=== TEST 7: policy key that is not base64
--- main_config eval
iothub(hub('test', 'hostname localhost;', 'policy p not*base64! registry_read;'))
--- must_die
--- error_log
invalid key for policy "p" in "policy" directive: a key is base64 of 16 to 64 bytes



=== TEST 8: policy key too short (15 bytes)
--- main_config eval
iothub(hub('test', 'hostname localhost;',
           'policy p MDEyMzQ1Njc4OWFiY2Rl registry_read;'))
--- must_die
--- error_log
invalid key for policy "p" in "policy" directive



=== TEST 9: policy key too long (65 bytes)
--- main_config eval
use MIME::Base64;
iothub(hub('test', 'hostname localhost;',
           'policy p ' . encode_base64('k' x 65, '') . ' registry_read;'))
--- must_die
--- error_log
invalid key for policy "p" in "policy" directive



=== TEST 10: unknown right
--- main_config eval
iothub(hub('test', 'hostname localhost;',
           "policy p $KEY $KEY2 registry_read registry_admin;"))
--- must_die
--- error_log
invalid right or key "registry_admin" in "policy" directive



=== TEST 11: a bad secondary key reads as an unknown right
--- main_config eval
iothub(hub('test', 'hostname localhost;',
           "policy p $KEY c2hvcnQ= registry_read;"))
--- must_die
--- error_log
invalid right or key "c2hvcnQ=" in "policy" directive



=== TEST 12: policy without rights (two keys)
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY $KEY2;"))
--- must_die
--- error_log
no rights for policy "p" in "policy" directive



=== TEST 13: policy without rights (one key)
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY;"))
--- must_die
--- error_log
no rights for policy "p" in "policy" directive



=== TEST 14: duplicate hub
--- main_config eval
iothub(hub('test'), hub('other'), hub('test'))
--- must_die
--- error_log
duplicate hub "test" in "hub" directive



=== TEST 15: duplicate policy
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           "policy q $KEY registry_read;", "policy p $KEY2 registry_write;"))
--- must_die
--- error_log
duplicate policy "p" in "policy" directive



=== TEST 16: invalid hub name with ':'
--- main_config eval
iothub(hub('a:b'))
--- must_die
--- error_log
invalid hub name "a:b" in "hub" directive



=== TEST 17: invalid hub name with '{' (a Redis hash tag)
--- main_config eval
iothub(hub('"a{b}"'))
--- must_die
--- error_log
invalid hub name "a{b}" in "hub" directive



=== TEST 18: redis host name instead of an IP address
--- main_config eval
"iothub {\n    redis redis.example.com:6379;\n" . hub('test') . "}\n"
--- must_die
--- error_log
"redis" directive needs an IP address or a unix socket, not a host name: "redis.example.com:6379"



=== TEST 19: duplicate redis
--- main_config eval
iothub("    redis 127.0.0.1:6380;\n", hub('test'))
--- must_die
--- error_log
"redis" directive is duplicate



=== TEST 20: redis_database above 15
--- main_config eval
iothub_block(extra => 'redis_database 16;')
--- must_die
--- error_log eval
# docs/directives.md: the message names the directive
[qr/value must be between 0 and 15/, qr/\bredis_database\b/]



=== TEST 21: redis_database not a number
--- main_config eval
iothub_block(extra => 'redis_database one;')
--- must_die
--- error_log
"redis_database" directive invalid number



=== TEST 22: partitions 0
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'partitions 0;'))
--- must_die
--- error_log eval
# docs/directives.md: the message names the directive
[qr/value must be between 1 and 128/, qr/\bpartitions\b/]



=== TEST 23: partitions 129
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'partitions 129;'))
--- must_die
--- error_log eval
# docs/directives.md: the message names the directive
[qr/value must be between 1 and 128/, qr/\bpartitions\b/]



=== TEST 24: retention 30s is under 1m
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'retention 30s;'))
--- must_die
--- error_log
"retention" of hub "test" must be from 1m to 7d



=== TEST 25: retention 8d is over 7d
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'retention 8d;'))
--- must_die
--- error_log
"retention" of hub "test" must be from 1m to 7d



=== TEST 26: iothub_api naming an unknown hub
--- config
location / { iothub_api nope; }
--- must_die
--- error_log
unknown hub "nope" in "iothub_api" directive; hubs are defined in an iothub{} block before it



=== TEST 27: iothub_api before the iothub block
--- main_config eval
"http {\n    server {\n        listen 127.0.0.1:$TEST_NGINX_PORT2;\n"
. "        location / { iothub_api test; }\n    }\n}\n" . iothub_block()
--- config
location / { return 204; }
--- must_die
--- error_log
unknown hub "test" in "iothub_api" directive; hubs are defined in an iothub{} block before it



=== TEST 28: iothub_api without any iothub block
--- main_config
--- must_die
--- error_log
unknown hub "test" in "iothub_api" directive



=== TEST 29: duplicate iothub block
--- main_config eval
iothub_block() . iothub_block()
--- must_die
--- error_log
"iothub" directive is duplicate



=== TEST 30: iothub_api twice in one location
--- config
location / { iothub_api test; iothub_api test; }
--- must_die
--- error_log
"iothub_api" directive is duplicate



=== TEST 31: iothub_api outside a location
--- config
iothub_api test;
location / { return 204; }
--- must_die
--- error_log
"iothub_api" directive is not allowed here



=== TEST 32: duplicate hostname
--- main_config eval
iothub(hub('test', 'hostname localhost;', 'hostname other;',
           "policy p $KEY registry_read;"))
--- must_die
--- error_log
"hostname" directive is duplicate



=== TEST 33: a Redis on a unix: socket
--- main_config eval
"iothub {\n    redis unix:$SOCK;\n" . hub('test') . "}\n"
--- request
PUT /devices/u1?api-version=2021-04-12
{"deviceId":"u1"}
--- response_body_like: ^\{"deviceId":"u1",
--- no_error_log
[error]
--- redis_check
EXISTS iothub:test:{u1}:device => 0



=== TEST 34: include inside iothub{} and hub{}
--- main_config eval
iothub("    include $DIR/hub.conf;\n")
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]



=== TEST 35: defaults: no redis directive means 127.0.0.1:6379
--- main_config eval
"iothub {\n" . hub('test') . "}\n"
--- request eval
"SLEEP 0.3"
--- error_log eval
[qr/connect to 127\.0\.0\.1:6379\b/]
--- no_error_log eval
[qr/connect to 127\.0\.0\.1:(?!6379\b)\d+/]



=== TEST 36: boundaries accepted: partitions 1 and 128, retention 1m and 7d, redis_database 15
--- main_config eval
iothub("    redis_database 15;\n    redis_max_backoff 200ms;\n",
       hub('test.hub-1_a', 'hostname localhost;',
           "policy iothubowner $KEY $KEY2 registry_write;",
           'partitions 1;', 'retention 1m;'),
       hub('other', 'hostname other.example.com;',
           "policy iothubowner $KEY registry_read;",
           'partitions 128;', 'retention 7d;'))
--- config
location / { iothub_api test.hub-1_a; }
location /other/ { iothub_api other; }
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]



=== TEST 37: two hubs keep their data apart
--- main_config eval
iothub(hub('test'), hub('other', 'hostname other.example.com;',
                       "policy iothubowner $KEY $KEY2 registry_write;"))
--- config
location / { iothub_api test; }
location /other/ { proxy_pass http://127.0.0.1:$TEST_NGINX_PORT2/; }
--- http_config eval
"server {\n    listen 127.0.0.1:$TEST_NGINX_PORT2;\n"
. "    location / { iothub_api other; }\n}\n"
--- request eval
[{method => 'PUT', path => '/devices/d1?api-version=2021-04-12',
  body => '{"deviceId":"d1"}'},
 {method => 'PUT', path => '/other/devices/d2?api-version=2021-04-12',
  body => '{"deviceId":"d2"}', auth => sas_token(host => 'other.example.com')},
 # a token for the first hub's host name is no good on the second
 {method => 'GET', path => '/other/devices/d2?api-version=2021-04-12'},
 {method => 'GET', path => '/devices/d2?api-version=2021-04-12'}]
--- error_code eval
[200, 200, 401, 404]
--- redis_check
EXISTS iothub:test:{d1}:device => 1
EXISTS iothub:other:{d1}:device => 0
EXISTS iothub:other:{d2}:device => 1
EXISTS iothub:test:{d2}:device => 0



=== TEST 38: janitor_interval under 1s
--- main_config eval
iothub("    janitor_interval 500ms;\n", hub('test'))
--- must_die
--- error_log
"janitor_interval" directive value must be from 1s to 86400s



=== TEST 39: janitor_interval over a day
--- main_config eval
iothub("    janitor_interval 2d;\n", hub('test'))
--- must_die
--- error_log
"janitor_interval" directive value must be from 1s to 86400s



=== TEST 40: janitor_interval that is not a time
--- main_config eval
iothub("    janitor_interval soon;\n", hub('test'))
--- must_die
--- error_log
"janitor_interval" directive invalid value



=== TEST 41: janitor_interval inside hub{}
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'janitor_interval 10s;'))
--- must_die
--- error_log
"janitor_interval" directive is not allowed here



=== TEST 42: feedback_max_length under 100
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'feedback_max_length 99;'))
--- must_die
--- error_log
"feedback_max_length" directive value must be between 100 and 100000000



=== TEST 43: feedback_max_length over 100000000
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'feedback_max_length 100000001;'))
--- must_die
--- error_log
"feedback_max_length" directive value must be between 100 and 100000000



=== TEST 44: feedback_max_length that is not a number
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'feedback_max_length lots;'))
--- must_die
--- error_log
"feedback_max_length" directive invalid number



=== TEST 45: boundaries accepted: janitor_interval 1s and 1d, feedback_max_length 100 and 100000000
--- main_config eval
iothub("    janitor_interval 1s;\n",
       hub('test', 'hostname localhost;',
           "policy iothubowner $KEY $KEY2 registry_write;",
           'feedback_max_length 100;'),
       hub('other', 'hostname other.example.com;',
           "policy iothubowner $KEY registry_read;",
           'feedback_max_length 100000000;'))
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]



=== TEST 46: janitor_interval 1d starts
--- main_config eval
iothub("    janitor_interval 1d;\n", hub('test'))
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]



=== TEST 47: memory_trim under 1s
--- main_config eval
iothub("    memory_trim 500ms;\n", hub('test'))
--- must_die
--- error_log
"memory_trim" directive value must be "off" or from 1s to 3600s, not "500ms"



=== TEST 48: memory_trim over an hour
--- main_config eval
iothub("    memory_trim 2h;\n", hub('test'))
--- must_die
--- error_log
"memory_trim" directive value must be "off" or from 1s to 3600s, not "2h"



=== TEST 49: memory_trim that is not a time
--- main_config eval
iothub("    memory_trim sometimes;\n", hub('test'))
--- must_die
--- error_log
"memory_trim" directive value must be "off" or from 1s to 3600s, not "sometimes"



=== TEST 50: memory_trim twice
--- main_config eval
iothub("    memory_trim 10s;\n    memory_trim off;\n", hub('test'))
--- must_die
--- error_log
"memory_trim" directive is duplicate



=== TEST 51: memory_trim inside hub{}
--- main_config eval
iothub(hub('test', 'hostname localhost;', "policy p $KEY registry_read;",
           'memory_trim 10s;'))
--- must_die
--- error_log
"memory_trim" directive is not allowed here



=== TEST 52: memory_trim off is accepted
--- main_config eval
iothub("    memory_trim off;\n", hub('test'))
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]



=== TEST 53: memory_trim 1h is accepted
--- main_config eval
iothub("    memory_trim 1h;\n", hub('test'))
--- request
GET /statistics/devices?api-version=2021-04-12
--- response_body: {"totalDeviceCount":0,"enabledDeviceCount":0,"disabledDeviceCount":0}
--- no_error_log
[error]
