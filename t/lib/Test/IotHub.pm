package Test::IotHub;

# Data-driven behaviour tests for nginx-iothub (STYLE.md section 12) on
# Test::Base: `use lib 't/lib'; use Test::IotHub; run_tests();` then
# __DATA__ blocks.  Sections, helpers and knobs: t/lib/README.md.
#
# Per file: free loopback ports and a private redis-server (the file is
# skipped without one).  Per block: conf/nginx.conf in a temp prefix, then
# nginx -t (must_die) or: FLUSHALL and the redis seed, nginx started (daemon
# off), the requests, the mqtt steps, QUIT, redis_check, the error.log
# checks.  "--- nodes: 2" runs a second nginx with the same configuration on
# other ports, sharing the file's Redis.

use Test::Base -base;
use Test::Base::Filter ();

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use List::Util ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Test::IotHub::HTTP;
use Test::IotHub::Port qw(free_port);
use Test::IotHub::Redis;
use Test::IotHub::SAS qw(sas_token auth_header @POLICIES %POLICY_KEYS
                         $DEVICE_KEY);
use Test::IotHub::MQTT @Test::IotHub::MQTT::EXPORT_OK;
use Test::IotHub::WS ();

our @EXPORT = (qw(run_tests sas_token iothub_block require_modules redis_cmd
                  http_request d2c_messages node_port test_prefix %POLICY_KEYS
                  $DEVICE_KEY $TEST_NGINX_PORT $TEST_NGINX_PORT2
                  $TEST_REDIS_PORT), @Test::IotHub::MQTT::EXPORT_OK);

my %SO = (core => 'ngx_iothub_module.so', http => 'ngx_http_iothub_module.so',
          mqtt => 'ngx_stream_iothub_mqtt_module.so',
          amqp => 'ngx_stream_iothub_amqp_module.so');

my $REPO = File::Spec->rel2abs(__FILE__);   # <repo>/t/lib/Test/IotHub.pm
$REPO = dirname($REPO) for 1 .. 4;
my $MODULES = File::Spec->rel2abs($ENV{IOTHUB_MODULES_DIR}
                                  || "$REPO/build/modules");
my $STREAM_SO = $ENV{TEST_IOTHUB_STREAM_MODULE}
                // '/usr/lib/nginx/modules/ngx_stream_module.so';
my $NGINX = $ENV{TEST_IOTHUB_NGINX} || '/usr/sbin/nginx';
my $VALGRIND = $ENV{TEST_IOTHUB_VALGRIND};
my $HUP = $ENV{TEST_IOTHUB_HUP} && !$VALGRIND;
my $VERBOSE = $ENV{TEST_IOTHUB_VERBOSE};
# a sanitizer runtime loaded into nginx first (modules built with ASan)
my $PRELOAD = $ENV{TEST_IOTHUB_PRELOAD};
my $SLOW = $VALGRIND ? 4 : 1;   # timeout multiplier

our ($TEST_NGINX_PORT, $TEST_NGINX_PORT2, $TEST_REDIS_PORT);
my ($TMP, $PREFIX, $REDIS, $redis, %VARS, $redis_pid);

# The nginx instances: {n, prefix, port, port2, pid}; node 1 is $PREFIX on
# $TEST_NGINX_PORT and $TEST_NGINX_PORT2, node 2 (--- nodes: 2) has its own.
my @NODES;

# Checked in every block unless its error_log names them.
my @DEFAULT_NO_LOG = (
    ['[alert]', qr/\[alert\]/], ['[crit]', qr/\[crit\]/],
    ['[emerg]', qr/\[emerg\]/],
    ['sanitizer report',
     qr/^==\d+==\s*(?:ERROR|WARNING): \w*Sanitizer|runtime error: /m],
);

sub import {
    _setup_file() unless $TMP;
    goto &Test::Base::import;
}

sub _setup_file {
    plan(skip_all => "$NGINX not found (TEST_IOTHUB_NGINX)") unless -x $NGINX;
    ($REDIS) = grep { -x } map { "$_/redis-server" } split /:/, $ENV{PATH};
    plan(skip_all => 'redis-server not found') unless $REDIS;
    $TMP = tempdir('iothub-t-XXXXXX', TMPDIR => 1,
                   CLEANUP => !$ENV{TEST_IOTHUB_KEEP});
    diag("temp dir: $TMP") if $ENV{TEST_IOTHUB_KEEP} || $VERBOSE;
    $PREFIX = "$TMP/nginx";
    my %used;
    my @ports = (\$TEST_NGINX_PORT, \$TEST_NGINX_PORT2, \$TEST_REDIS_PORT,
                 \my $n2port, \my $n2port2);
    for my $port (@ports) {
        do {
            $$port = free_port();
        } while $used{$$port}++;
    }
    @NODES = ({n => 1, prefix => $PREFIX, port => $TEST_NGINX_PORT,
               port2 => $TEST_NGINX_PORT2},
              {n => 2, prefix => "$TMP/nginx2", port => $n2port,
               port2 => $n2port2});
    mkdir $_ for "$TMP/redis", map { my $p = $_->{prefix};
                                     ($p, map { "$p/$_" } qw(conf logs temp)) }
                                   @NODES;
    $redis = Test::IotHub::Redis->new(port => $TEST_REDIS_PORT);
    %VARS = (TEST_NGINX_PORT => $TEST_NGINX_PORT, TEST_PREFIX => $PREFIX,
             TEST_NGINX_PORT2 => $TEST_NGINX_PORT2,
             TEST_REDIS_PORT => $TEST_REDIS_PORT,
             TEST_DEVICE_KEY => $DEVICE_KEY);
    $SIG{PIPE} = 'IGNORE';
    $SIG{INT} = $SIG{TERM} = sub { exit 130 };   # END cleans up
}

END { local $?; _stop(\$_->{pid}, 'QUIT', 3) for @NODES; _stop_redis() }

# Skip the whole file unless the named modules (core, http, mqtt, amqp or
# .so file names) are built.  Call it before run_tests().
sub require_modules {
    my @miss = grep { !-f "$MODULES/$_" } map { $SO{$_} // $_ } @_;
    plan(skip_all => "not built in $MODULES: @miss") if @miss;
}

# The standard iothub{} block; extra => lines for iothub{}, hub_extra =>
# lines for hub test{}, command_timeout => redis_command_timeout (2s).
sub iothub_block {
    my %a = @_;
    my $timeout = $a{command_timeout} // '2s';
    my $policies = join '', map { sprintf "        policy %-17s %s %s %s;\n",
                                          @$_[0, 2, 3, 1] } @POLICIES;
    my ($extra, $hub_extra) = map { defined $_ ? "    $_\n" : '' }
                                  @a{qw(extra hub_extra)};
    return <<"EOF";
iothub {
    redis 127.0.0.1:$TEST_REDIS_PORT;
    redis_connect_timeout 1s;
    redis_command_timeout $timeout;
$extra    hub test {
        hostname localhost;
$policies        partitions 4;
$hub_extra    }
}
EOF
}

sub redis_cmd { $redis->cmd(@_) }

# test_prefix(): node 1's nginx prefix (its logs/, its blob store's files)
sub test_prefix { return $PREFIX }

# The HTTP and stream ports of node $n (1 or 2).
sub node_port {
    my $node = $NODES[(shift // 1) - 1] or die "node_port: no such node\n";
    return ($node->{port}, $node->{port2});
}

# The hub's device-to-cloud messages: those of every stream
# iothub:test:d2c:<partition>, oldest first, as hashrefs of their fields
# plus _id ("<ms>-<sequence number>"), _stream and _fields (the field
# names in order).  An entry holds the messages of one append, packed
# (shared/ngx_iothub_d2c_pack.h).
sub d2c_messages {
    my $hub = shift // 'test';
    my @m;
    for my $key (@{$redis->cmd('KEYS', "iothub:$hub:d2c:*") || []}) {
        for my $e (@{$redis->cmd('XRANGE', $key, '-', '+') || []}) {
            push @m, _d2c_entry_messages($key, @$e);
        }
    }
    my $k = sub { [split /-/, shift->{_id}] };
    return [sort { my ($x, $y) = ($k->($a), $k->($b));
                   $x->[0] <=> $y->[0] || $x->[1] <=> $y->[1] } @m];
}

# the names the hub packs as one byte, and the auth method's values
# (shared/ngx_iothub_d2c_pack.h)
my @D2C_NAMES = (undef,
                 (map { "a:iothub-connection-$_" }
                  qw(device-id module-id auth-generation-id auth-method)),
                 'a:iothub-enqueuedtime', 'a:iothub-message-source',
                 'a:dt-dataschema', 'body');
my @D2C_AUTH_METHODS = map {
    my ($scope, $type) = @$_;
    qq({"scope":"$scope","type":"$type","issuer":"iothub",)
        . '"acceptingIpFilterRule":null}'
} map { my $s = $_; map { [$s, $_] } qw(sas x509Certificate) }
  qw(device module hub);

sub _d2c_unpack_name {
    my ($name, $value) = @_;
    return ($name, $value) unless length $name == 1 && ord $name < 0x20;
    $name = $D2C_NAMES[ord $name] // die "d2c: unknown name code\n";
    $value = $D2C_AUTH_METHODS[ord $value]
        if $name eq 'a:iothub-connection-auth-method';
    return ($name, $value);
}

sub _d2c_entry_messages {
    my ($key, $id, $f) = @_;
    my %entry = @$f;
    my $message = sub {
        my ($mid, @fields) = @_;
        return {_id => $mid, _stream => $key,
                _fields => [@fields[grep { !($_ % 2) } 0 .. $#fields]],
                @fields};
    };
    return $message->($id, @$f) unless defined $entry{m};
    my ($ms, $last) = split /-/, $id;
    my ($seq, $packed, @out) = ($last - $entry{n} + 1, $entry{m});
    while (length $packed) {
        my $n = unpack 'n', substr($packed, 0, 2, '');
        my @fields;
        for (1 .. 2 * $n) {
            my $len = unpack 'N', substr($packed, 0, 4, '');
            push @fields, substr($packed, 0, $len + 1, '');
            chop $fields[-1];
        }
        @fields = map { _d2c_unpack_name(@fields[2 * $_, 2 * $_ + 1]) }
                  0 .. $n - 1;
        push @out, $message->("$ms-" . $seq++, @fields);
    }
    die "d2c entry $id of $key: $entry{n} messages announced, "
        . scalar(@out) . " packed\n" unless @out == $entry{n};
    return @out;
}

# http_request($method, $path, [[name, value], ...], $body, $timeout) to
# $TEST_NGINX_PORT, as is; see Test::IotHub::HTTP for the result.
sub http_request {
    my ($method, $path, $headers, $body, $timeout) = @_;
    return Test::IotHub::HTTP::request($TEST_NGINX_PORT, $method, $path,
                                       $headers || [], $body,
                                       ($timeout || 5) * $SLOW);
}

# --- processes -------------------------------------------------------------

sub _spawn {   # fork and exec with stdout and stderr appended to $out
    my ($out, @cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    return $pid if $pid;
    $ENV{LD_PRELOAD} = $PRELOAD if $PRELOAD && $cmd[0] eq $NGINX;
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', $out;
    open STDERR, '>&', \*STDOUT;
    exec { $cmd[0] } @cmd   # POSIX::_exit: no END blocks in the child
        or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
}

sub _poll {   # call $check until it returns true (that value) or time is up
    my ($timeout, $check) = @_;
    my $deadline = time + $timeout * $SLOW;
    while (1) {
        my $r = $check->();
        return $r if $r;
        return undef if time > $deadline;
        sleep 0.02;
    }
}

sub _reap {   # true once the child exited, with its status in $?
    my ($pid, $timeout) = @_;
    return _poll($timeout, sub { waitpid($pid, WNOHANG) == $pid });
}

sub _exit_status {
    return $? & 127 ? 'signal ' . ($? & 127) : 'status ' . ($? >> 8);
}

# Sends $sig to the child in $$pidref, waits, KILLs it after $timeout;
# returns '' for a clean exit, else what went wrong.
sub _stop {
    my ($pidref, $sig, $timeout) = @_;
    my $pid = $$pidref or return '';
    undef $$pidref;
    kill $sig, $pid;
    return $? ? 'exited with ' . _exit_status() : '' if _reap($pid, $timeout);
    kill 'KILL', $pid;
    _reap($pid, 5);
    return "did not exit on $sig";
}

sub _slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh> // '';
}

sub _write_file {
    my ($f, $data) = @_;
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $data;
    close $fh;
}

sub _start_redis {
    return if $redis_pid;
    $redis_pid = _spawn("$TMP/redis/stdout.log", $REDIS, '--port',
        $TEST_REDIS_PORT, '--bind', '127.0.0.1', '--save', '', '--appendonly',
        'no', '--dir', "$TMP/redis", '--daemonize', 'no',
        '--logfile', "$TMP/redis/redis.log");
    my $up = _poll(10, sub {
        return 'exited' if waitpid($redis_pid, WNOHANG) == $redis_pid;
        return (eval { $redis->cmd('PING') } // '') eq 'PONG' ? 'up' : undef;
    }) // '';
    if ($up eq 'up') {   # loaded once (see _stop_redis), then forgotten
        unlink "$TMP/redis/dump.rdb";
        return;
    }
    if ($up eq 'exited') { undef $redis_pid } else { _stop_redis() }
    die "redis-server did not start:\n", _slurp("$TMP/redis/redis.log"),
        _slurp("$TMP/redis/stdout.log");
}

# Stops Redis; with $save true by SHUTDOWN SAVE, so that the next start
# loads what it held (for checks across a Redis outage).
sub _stop_redis {
    my $save = shift;
    eval { $redis->cmd('SHUTDOWN', 'SAVE') } if $save && $redis_pid;
    $redis->disconnect if $redis;
    return _stop(\$redis_pid, 'TERM', 10);
}

sub _start_nginx {   # node 1 unless a node is given
    my $node = shift // $NODES[0];
    my $prefix = $node->{prefix};
    my @cmd = ($NGINX, '-p', "$prefix/", '-c', 'conf/nginx.conf');
    my $supp = "$REPO/t/lib/valgrind.supp";
    unshift @cmd, 'valgrind', '--quiet', '--num-callers=30',
        "--log-file=$prefix/logs/valgrind.log", '--leak-check=full',
        '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
        -f $supp ? "--suppressions=$supp" : ()
        if $VALGRIND;
    unlink "$prefix/logs/nginx.pid";
    my $pid = $node->{pid} = _spawn("$prefix/logs/stderr.log", @cmd);
    # nginx writes its pid file once the listening sockets are open.
    return _wait_nginx($node, 'start', sub {
        _slurp("$prefix/logs/nginx.pid") =~ /^$pid\b/ ? 'ok' : undef });
}

sub _reload {   # HUP node 1, then wait for a new worker (or an [emerg])
    my $node = $NODES[0];
    return 'nginx is not running' unless $node->{pid};
    my $log = "$node->{prefix}/logs/error.log";
    my $offset = -s $log // 0;
    kill 'HUP', $node->{pid};
    my $err = _wait_nginx($node, 'reload', sub {
        my $new = substr(_slurp($log), $offset);
        $new =~ /(\[emerg\].*)/ ? "reload failed: $1"
            : $new =~ /start worker process/ ? 'ok' : undef });
    sleep 0.2 unless $err;   # let the old workers close their listeners
    return $err;
}

# Polls $ready ('ok', an error text, or undef for "not yet") while the
# node's nginx master runs; returns '' once ready, else what went wrong.
sub _wait_nginx {
    my ($node, $what, $ready) = @_;
    my $pid = $node->{pid};
    my $r = _poll(10, sub { waitpid($pid, WNOHANG) == $pid
                            ? 'exited' : $ready->() });
    return '' if ($r // '') eq 'ok';
    return "nginx did not $what; on QUIT it "
        . (_stop(\$node->{pid}, 'QUIT', 5) || 'exited') unless defined $r;
    return $r unless $r eq 'exited';
    undef $node->{pid};
    return "nginx exited at $what with " . _exit_status();
}

# Waits (up to 3 s, quietly) until $n workers subscribed to their Redis
# inboxes, so that a takeover can reach the session it replaces.
sub _wait_inboxes {
    my $n = shift;
    _poll(3, sub { my $c = eval { $redis->cmd('PUBSUB', 'CHANNELS',
                                              'iothub:inbox:*') };
                   ref $c eq 'ARRAY' && @$c >= $n });
}

# --- blocks ----------------------------------------------------------------

sub _subst {
    my $t = shift // return undef;
    $t =~ s/\$(TEST_[A-Z0-9_]+)/exists $VARS{$1} ? $VARS{$1} : "\$$1"/ge;
    return $t;
}

sub _lines { grep { /\S/ && !/^\s*#/ } split /\n/, shift // '' }

sub _headers {   # "Name: value" lines, [[name, value], ...] or {name => value}
    my $h = shift // return ();
    return map { [$_, $h->{$_}] } sort keys %$h if ref $h eq 'HASH';
    return @$h if ref $h eq 'ARRAY';
    return map { /^\s*([^:\s]+)\s*:\s?(.*)$/ ? [$1, $2] : () }
               _lines(_subst($h));
}

sub _uses_mqtt {   # the block talks to the stream server
    my $b = shift;
    return defined scalar $b->mqtt || defined scalar $b->stream_request;
}

# Returns the nginx.conf text of a node (default 1) and the missing modules.
sub _build_conf {
    my ($b, $node) = @_;
    $node //= $NODES[0];
    local @VARS{qw(TEST_NGINX_PORT TEST_NGINX_PORT2 TEST_PREFIX TEST_NODE)}
        = @$node{qw(port port2 prefix n)};
    my %s = map { my ($v) = $b->$_; ($_ => _subst($v)) } qw(main_config
                  http_config config stream_config stream_server_config);
    $s{main_config} //= iothub_block();
    $s{config} //= 'location / { iothub_api test; }';
    $s{stream_server_config} //= 'iothub_mqtt test;' if _uses_mqtt($b);
    $s{$_} //= '' for qw(http_config stream_config);
    my $all = join "\n", grep defined, values %s;
    my @need = ((grep { $all =~ /\biothub_$_/ } qw(mqtt amqp)),
                $all =~ /\biothub/ ? 'core' : (),
                "$s{http_config}\n$s{config}" =~ /\biothub/ ? 'http' : ());
    # Our protocol modules need the core module's symbols: load it first.
    my @load = grep { -f } $STREAM_SO, (-f "$MODULES/$SO{core}"
        ? (map { "$MODULES/$SO{$_}" } qw(core http mqtt amqp)) : ());
    my $workers = (scalar $b->workers // 1) =~ s/\s+//gr;
    my $master = $VALGRIND ? 'off' : 'on';
    my $conf = join('', map { "load_module $_;\n" } @load)
             . ($> == 0 ? "user root;\n" : '') . <<"EOF";
master_process $master;
worker_processes $workers;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log debug;

$s{main_config}
events {
    worker_connections 1024;
}

http {
    access_log logs/access.log;
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    default_type text/plain;

$s{http_config}
    server {
        listen 127.0.0.1:$node->{port};
        server_name localhost;

$s{config}
    }
}
EOF
    if (defined $s{stream_server_config} || $s{stream_config} ne '') {
        $conf .= "\nstream {\n$s{stream_config}\n";
        $conf .= "    server {\n        listen 127.0.0.1:$node->{port2};\n\n"
               . "$s{stream_server_config}\n    }\n"
            if defined $s{stream_server_config};
        $conf .= "}\n";
    }
    return ($conf, [grep { !-f "$MODULES/$SO{$_}" } @need]);
}

sub _requests {   # the block's requests as hashrefs
    my $b = shift;
    my ($raw, $r, $body) = map { scalar $b->$_ }
                           qw(raw_request request request_body);
    return ({raw => $raw}) if defined $raw;
    return map {
        my $spec = $_;
        ref $spec ? {%$spec}
        : $spec =~ /^\s*(REDIS (?:STOP(?: SAVE)?|START)|SLEEP\s+[\d.]+|HUP)\s*$/
            ? {pseudo => $1}
        : do {
            my ($line, $rest) = split /\n/, $spec, 2;
            my ($method, $path) = split ' ', _subst($line);
            $rest = undef unless defined $rest && $rest =~ /\S/;
            +{method => $method, path => $path, body => $body // $rest};
        };
    } grep defined, ref $r eq 'ARRAY' ? @$r : $r;
}

sub _send {
    my ($b, $spec) = @_;
    my $timeout = ($spec->{timeout} // $b->timeout || 5) * $SLOW;
    my $port = (node_port($spec->{node} // 1))[0];
    return Test::IotHub::HTTP::raw($port, $spec->{raw}, $timeout)
        if defined $spec->{raw};
    # The request's own headers override more_headers of the same name.
    my @own = _headers($spec->{headers});
    my %have = map { (lc $_->[0] => 1) } @own;
    my @h = ((grep { !$have{lc $_->[0]} } _headers($b->more_headers)), @own);
    %have = map { (lc $_->[0] => 1) } @h;
    # a CODE ref: the token is made when the request is sent
    my $given = ref $spec->{auth} eq 'CODE' ? $spec->{auth}->() : $spec->{auth};
    my $auth = auth_header($given
                           // ($b->auth // 'iothubowner') =~ s/\s+$//r);
    unshift @h, ['Host', 'localhost'] unless $have{host};
    push @h, ['Connection', 'close'] unless $have{connection};
    push @h, ['Authorization', $auth] if defined $auth && !$have{authorization};
    my $body = $spec->{body};
    $body //= '' if $spec->{method} =~ /^(?:POST|PUT|PATCH)$/;
    if (defined $body) {
        utf8::encode($body) if utf8::is_utf8($body);
        push @h, ['Content-Type', 'application/json; charset=utf-8']
            if length $body && !$have{'content-type'};
        push @h, ['Content-Length', length $body]
            unless $have{'content-length'};
    }
    return Test::IotHub::HTTP::request($port, $spec->{method},
                                       _subst($spec->{path}), \@h, $body,
                                       $timeout);
}

sub _pick {   # the expectation in section $sec for HTTP request number $i
    my ($b, $sec, $i) = @_;
    my $v = $b->$sec;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

sub _check_response {
    my ($b, $name, $i, $r) = @_;
    is($r->{status}, (_pick($b, 'error_code', $i) // 200) =~ s/^\s+|\s+$//gr,
       "$name - status code");
    my $body = _pick($b, 'response_body', $i);
    is($r->{body}, $body, "$name - response body") if defined $body;
    if (defined(my $like = _pick($b, 'response_body_like', $i))) {
        $like =~ s/\n\z// unless ref $like;
        like($r->{body}, ref $like ? $like : qr/$like/s,
             "$name - response body like");
    }
    my $hv = sub {   # a header's values joined by ", ", or undef
        my $v = $r->{headers}{lc shift};
        return $v ? join(', ', @$v) : undef;
    };
    for (_lines(_pick($b, 'response_headers', $i))) {
        if (/^\s*!\s*(\S+)/) {
            ok(!defined $hv->($1), "$name - header $1 absent");
        } elsif (/^\s*([^:\s]+)\s*:\s?(.*)$/) {
            is($hv->($1), $2, "$name - header $1");
        }
    }
    for (_lines(_pick($b, 'response_headers_like', $i))) {
        like($hv->($1) // '', qr/$2/, "$name - header $1 like")
            if /^\s*([^:\s]+)\s*:\s?(.*)$/;
    }
}

sub _patterns {   # a log section's strings (one a line) and qr//s
    my ($b, $sec) = @_;
    return map { ref $_ eq 'ARRAY' ? @$_ : ref $_ ? $_ : _lines($_) }
           grep defined, $b->$sec;
}

sub _check_logs {
    my ($b, $name, $text, $defaults) = @_;
    my @want = _patterns($b, 'error_log');
    my @no = _patterns($b, 'no_error_log');
    ok(ref $_ ? !!($text =~ $_) : index($text, $_) >= 0, "$name - log has $_")
        for @want;
    my @checks = map { [$_, ref $_ ? $_ : qr/\Q$_\E/] } @no;
    for my $d ($defaults ? @DEFAULT_NO_LOG : ()) {
        my ($word) = $d->[0] =~ /(\w+)/;
        push @checks, $d unless grep { "$_" =~ /\Q$word\E/i } @want, @no;
    }
    for my $c (@checks) {
        my @hits = $text =~ /^(.*$c->[1].*)$/mg;
        ok(!@hits, "$name - log has no $c->[0]")
            or diag(join "\n", grep defined, @hits[0 .. 4]);
    }
}

sub _redis_seed {
    my ($b, $name) = @_;
    my $seed = $b->redis // return;
    my @cmds = map { ref $_ ? $_ : [Test::IotHub::Redis::words($_)] }
               ref $seed ? @$seed : _lines(_subst($seed));
    for my $c (@cmds) {
        my $r = eval { $redis->cmd(@$c) };
        next unless $@ || Test::IotHub::Redis::is_error($r);
        fail("$name - redis seed: @$c: "
             . ($@ || Test::IotHub::Redis::render($r)));
    }
}

sub _redis_check {
    my ($b, $name) = @_;
    my $chk = $b->redis_check // return;
    my @checks = ref $chk ? @$chk : map {
        my ($cmd, $op, $want) = /^(.*?)\s+(=>|=~)\s?(.*)$/
            or die "bad redis_check line: $_\n";
        [$cmd, $op eq '=~' ? qr/$want/ : $want];
    } _lines(_subst($chk));
    for (@checks) {
        my ($cmd, $want) = @$_;
        $cmd = [Test::IotHub::Redis::words($cmd)] unless ref $cmd;
        my $r = eval { $redis->cmd(@$cmd) } // ($@ ? "(died) $@" : undef);
        my $text = Test::IotHub::Redis::render($r);
        ref $want eq 'Regexp' ? like($text, $want, "$name - redis @$cmd")
        : ref $want ? is_deeply($r, $want, "$name - redis @$cmd")
        : is($text, $want, "$name - redis @$cmd");
    }
}

sub _active_nodes {   # the nodes a block runs: --- nodes (default 1)
    my $b = shift;
    my $n = (scalar $b->nodes // 1) =~ s/\s+//gr;
    die "nodes: 1 or 2, not '$n'\n" unless $n =~ /^[12]$/;
    return @NODES[0 .. $n - 1];
}

sub _log_text {   # error.log and stderr of every node
    return join '', map { my $p = $_->{prefix};
                          map { _slurp("$p/logs/$_") } qw(error.log stderr.log) }
                    @NODES;
}

sub _log_tail {   # on failures: the last non-debug error.log lines, stderr
    my @out;
    for my $node (@NODES) {
        my $p = $node->{prefix};
        my @e = grep { m{^\d{4}/\d\d/\d\d \S+ \[(?!debug\])} }
                split /\n/, _slurp("$p/logs/error.log");
        my @s = split /\n/, _slurp("$p/logs/stderr.log");
        next unless @e || @s || $node->{n} == 1;
        splice @$_, 0, @$_ - 30 for grep { @$_ > 30 } \@e, \@s;
        my $tag = $node->{n} == 1 ? '' : " of node $node->{n}";
        push @out, "error.log$tag (no debug lines):", @e,
                   @s ? ("nginx stderr$tag:", @s) : ();
    }
    return join "\n", @out;
}

sub _run_block {
    my $b = shift;
    my $name = $b->name;
    my @nodes = _active_nodes($b);
    my ($conf, $missing) = _build_conf($b);
    if (@$missing) {
        SKIP: { skip("$name: needs @SO{@$missing} in $MODULES", 1) }
        return;
    }
    for my $node (@NODES) {
        my $p = $node->{prefix};
        _write_file("$p/conf/nginx.conf", (_build_conf($b, $node))[0])
            if $node->{n} > 1 && $node->{n} <= @nodes;
        _write_file("$p/logs/$_", '') for qw(error.log stderr.log
                                             valgrind.log);
    }
    _write_file("$PREFIX/conf/nginx.conf", $conf);
    diag($conf) if $VERBOSE;

    if (defined $b->must_die) {
        open my $fh, '-|', 'sh', '-c', 'exec env "$@" 2>&1', 'sh',
             $PRELOAD ? "LD_PRELOAD=$PRELOAD" : (), $NGINX, '-t',
             '-p', "$PREFIX/", '-c', 'conf/nginx.conf' or die "sh: $!\n";
        my $out = do { local $/; <$fh> // '' };
        close $fh;   # sets $?
        ok($? != 0, "$name - nginx -t fails") or diag($out);
        return _check_logs($b, $name, $out . _log_text(), 0);
    }

    _start_redis();
    $redis->cmd('FLUSHALL') unless defined $b->no_flush;
    _redis_seed($b, $name);

    for my $node (@nodes) {
        my $err = $HUP && $node->{n} == 1 && $node->{pid} ? _reload()
                : _start_nginx($node);
        my $tag = $node->{n} == 1 ? '' : " $node->{n}";
        next if ok(!$err, "$name - nginx$tag started");
        diag($err);
        _stop(\$_->{pid}, 'QUIT', 10) for grep { $_->{pid} } @nodes;
        return;
    }
    if (_uses_mqtt($b) && $conf =~ /^\s*iothub_mqtt\s/m) {
        my $w = (scalar $b->workers // 1) =~ s/\s+//gr;
        _wait_inboxes(($VALGRIND ? 1 : $w) * @nodes);
    }

    my $i = 0;
    for my $spec (_requests($b)) {
        my $p = $spec->{pseudo} // '';
        if ($p =~ /^REDIS STOP( SAVE)?/) { _stop_redis($1) }
        elsif ($p eq 'REDIS START') { _start_redis() }
        elsif ($p =~ /^SLEEP\s+([\d.]+)/) { sleep $1 }
        elsif ($p eq 'HUP') {
            my $e = _reload();
            ok(!$e, "$name - reload") or diag($e);
        }
        else {
            my $r = _send($b, $spec);
            diag("$name: request $i: $r->{status}\n$r->{raw}") if $VERBOSE;
            _check_response($b, $i ? "$name (req $i)" : $name, $i, $r);
            $i++;
        }
    }

    _run_mqtt($b, $name, _mqtt_steps($b));

    for my $node (reverse @nodes) {
        next if $HUP && $node->{n} == 1;
        my $e = _stop(\$node->{pid}, 'QUIT', 10);
        my $tag = $node->{n} == 1 ? '' : " $node->{n}";
        ok(!$e, "$name - nginx$tag stopped") or diag("nginx$tag $e");
    }
    _redis_check($b, $name);
    _check_logs($b, $name, _log_text(), 1);
    if ($VALGRIND) {
        for my $node (@nodes) {
            my $vg = _slurp("$node->{prefix}/logs/valgrind.log");
            ok($vg !~ /\S/, "$name - valgrind clean"
                            . ($node->{n} > 1 ? " (node $node->{n})" : ''))
                or diag($vg);
        }
    }
}

# --- mqtt steps --------------------------------------------------------------

sub _mqtt_steps {   # the mqtt section's steps, then stream_request/response
    my $b = shift;
    my @v = grep defined, $b->mqtt;
    @v = @{$v[0]} if @v == 1 && ref $v[0] eq 'ARRAY'
                     && (!@{$v[0]} || ref $v[0][0] eq 'ARRAY');
    if (defined(my $req = $b->stream_request)) {
        push @v, [send => $req];
        push @v, [_response => scalar $b->stream_response,
                  ($b->timeout // 5) =~ s/\s+//gr]
            if defined $b->stream_response;
    }
    return @v;
}

sub _want_text {   # an expectation as text for messages
    my $w = shift;
    return ref $w eq 'Regexp' ? "$w" : ref $w ? Test::IotHub::Redis::render($w)
         : $w;
}

sub _matches {   # $got against a string (eq), qr// or structure
    my ($got, $want) = @_;
    return ref $want eq 'Regexp' ? (defined $got && !ref $got && $got =~ $want)
         : ref $want ? Test::More::eq_array([$got], [$want])
         : defined $got && !ref $got && $got eq $want;
}

sub _bytes_diag {   # expected and received bytes, described and in hex
    my ($want, $got, $status) = @_;
    my @d = ('received' . (($status // 'ok') eq 'ok' ? '' : " ($status)") . ':',
             mqtt_describe($got) =~ s/^/    /mgr,
             '    hex: ' . mqtt_hex($got));
    unshift @d, 'expected:', mqtt_describe($want) =~ s/^/    /mgr,
                '    hex: ' . mqtt_hex($want)
        if defined $want && !ref $want;
    unshift @d, "expected a packet matching $want" if ref $want;
    return join "\n", @d;
}

# Checks d2c_messages() against a list of hashrefs: same count, and per
# message each named field equal (string), like (qr//) or absent (undef);
# _fields => [names] is the whole field list in order.
sub _d2c_diff {
    my $want = shift;
    my $got = d2c_messages();
    return 'got ' . @$got . ' messages, expected ' . @$want . "\n"
           . _d2c_dump($got)
        if @$got != @$want;
    for my $i (0 .. $#$want) {
        for my $f (sort keys %{$want->[$i]}) {
            my ($w, $g) = ($want->[$i]{$f}, $got->[$i]{$f});
            if ($f eq '_fields') {
                return "message $i: fields [@{$got->[$i]{_fields}}], "
                       . "expected [@$w]" unless "@{$got->[$i]{_fields}}" eq "@$w";
            } elsif (!defined $w) {
                return "message $i: $f present: " . _printable_value($g)
                    if defined $g;
            } elsif (!_matches($g, $w)) {
                return "message $i: $f is " . _printable_value($g)
                       . ', expected ' . _want_text($w) . "\n"
                       . _d2c_dump([$got->[$i]]);
            }
        }
    }
    return '';
}

sub _printable_value {
    my $v = shift;
    return '(absent)' unless defined $v;
    $v = substr($v, 0, 80) . '...(' . length($v) . ' bytes)' if length $v > 80;
    return '"' . ($v =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ger) . '"';
}

sub _d2c_dump {
    my $m = shift;
    return join "\n", map { my $e = $_; "  $e->{_stream} $e->{_id}: "
        . join ', ', map { "$_=" . _printable_value($e->{$_}) } @{$e->{_fields}} }
        @$m;
}

sub _poll_check {   # runs $try (returns '' or a complaint) until '' or $wait
    my ($wait, $try) = @_;
    my $deadline = time + ($wait || 0) * $SLOW;
    while (1) {
        my $err = $try->();
        return $err if $err eq '' || time >= $deadline;
        sleep 0.05;
    }
}

sub _request_spec {   # "METHOD /path" or a hashref, as _send wants it
    my $spec = shift;
    return {%$spec} if ref $spec;
    my ($line, $body) = split /\n/, $spec, 2;
    my ($method, $path) = split ' ', _subst($line);
    return {method => $method, path => $path,
            body => defined $body && $body =~ /\S/ ? $body : undef};
}

# Reads whole packets from $c until each expectation (bytes, qr// or CODE
# ref, as in an expect step) matched one of them, in whatever order they
# come, within $timeout s in all; returns '' or what went wrong.  For
# packets whose order MQTT leaves open, such as a PUBLISH matching a new
# subscription and its SUBACK (MQTT 3.1.1 section 3.8.4).
sub _expect_unordered {
    my ($c, $wants, $timeout) = @_;
    my @left = @$wants;
    my $deadline = time + $timeout;
    my $match = sub {
        my ($w, $got) = @_;
        return ref $w eq 'CODE' ? $w->($got) : ref $w ? $got =~ $w
             : $got eq $w;
    };
    while (@left) {
        my $wait = $deadline - time;
        my ($got, $st) = $c->read_packet($wait > 0 ? $wait : 0);
        if ($st ne 'ok') {
            return join "\n", scalar(@left) . ' of ' . @$wants
                . ' packets did not come; still expected:',
                (map { ref $_ ? "    a packet matching $_"
                       : mqtt_describe($_) =~ s/^/    /mgr } @left),
                _bytes_diag(undef, $got, $st);
        }
        # bytes and patterns first: a CODE check may keep what it matched
        my @order = ((grep { ref $left[$_] ne 'CODE' } 0 .. $#left),
                     (grep { ref $left[$_] eq 'CODE' } 0 .. $#left));
        my $i = List::Util::first { $match->($left[$_], $got) } @order;
        return "a packet none of the expectations matches:\n"
               . _bytes_diag(undef, $got, $st) unless defined $i;
        splice @left, $i, 1;
    }
    return '';
}

# Runs the steps of an mqtt section (t/lib/README.md): named connections to
# the stream server of node 1 or 2, opened on first use.
sub _run_mqtt {
    my ($b, $name, @steps) = @_;
    return unless @steps;
    my (%conn, %node_of, $cur);
    $cur = 'a';
    my $get = sub {   # the current connection, opened on first use
        return $conn{$cur} if $conn{$cur};
        my @ports = node_port($node_of{$cur} // 1);
        my $ws = $b->websocket;   # MQTT over WebSocket on the http port
        $ws =~ s/\s+//g if defined $ws;
        my $c = defined $ws
            ? Test::IotHub::WS::Client->new(port => $ports[0], name => $cur,
                                            protocol => $ws)
            : Test::IotHub::MQTT::Client->new(port => $ports[1],
                                              name => $cur);
        fail("$name - connection $cur: $@") unless $c;
        return $conn{$cur} = $c;
    };
    my $n = 0;
    for my $step (@steps) {
        my ($verb, @a) = @$step;
        $n++;
        my $t = "$name - step $n: $cur $verb";
        diag("$t " . join ' ', map { ref $_ ? ref $_
                                     : /[^\x20-\x7e]/ ? mqtt_describe($_) =~ s/\n/; /gr
                                     : length > 60 ? length . ' bytes' : $_ }
                                 grep defined, @a)
            if $VERBOSE;
        if ($verb eq 'conn') {
            ($cur, my $node) = @a;
            $t = "$name - step $n: conn $cur";
            $node_of{$cur} = $node if defined $node;
            $get->();
        } elsif ($verb eq 'connect') {
            my ($args, $want) = @a;
            $args = {device => $args} unless ref $args;
            my $c = $get->() or next;
            my $e = $c->send(mqtt_connect(%$args));
            fail("$t - send: $e") if $e;
            $want //= mqtt_connack(0);
            my ($got, $st) = $c->read_bytes(length $want, 5 * $SLOW);
            ok($st eq 'ok' && $got eq $want, $t)
                or diag(_bytes_diag($want, $got, $st));
        } elsif ($verb eq 'send' || $verb eq 'trickle') {
            my $c = $get->() or next;
            my $bytes = ref $a[0] eq 'CODE' ? $a[0]->() : $a[0];
            my $e = $verb eq 'send' ? $c->send($bytes)
                  : $c->send($bytes, 1, $a[1] // 0.005);
            fail("$t: $e") if $e;
        } elsif ($verb eq 'expect') {
            my ($want, $timeout) = @a;
            my $c = $get->() or next;
            $timeout = ($timeout // 5) * $SLOW;
            my ($got, $st) = ref $want ? $c->read_packet($timeout)
                           : $c->read_bytes(length $want, $timeout);
            my $good = $st eq 'ok' && (ref $want eq 'CODE' ? $want->($got)
                                       : ref $want ? $got =~ $want
                                       : $got eq $want);
            ok($good, $t) or diag(_bytes_diag($want, $got, $st));
        } elsif ($verb eq 'expect_unordered') {
            my ($wants, $timeout) = @a;
            my $c = $get->() or next;
            my $err = _expect_unordered($c, $wants, ($timeout // 5) * $SLOW);
            ok($err eq '', $t) or diag($err);
        } elsif ($verb eq 'closed' || $verb eq '_response') {
            my $want = $verb eq 'closed' ? '' : $a[0];
            my $c = $get->() or next;
            my ($got, $st) = $c->read_all(($a[-1] // 5) * $SLOW);
            ok($st eq 'eof' && $got eq $want,
               $verb eq 'closed' ? $t : "$name - stream response")
                or diag(_bytes_diag($want, $got,
                        $st eq 'eof' ? 'then closed' : 'not closed'));
            $c->close;
            delete $conn{$cur};
        } elsif ($verb eq 'silent') {
            my $c = $get->() or next;
            my ($got, $st) = $c->read_all($a[0] // 1);
            ok($st eq 'timeout' && $got eq '', $t)
                or diag(_bytes_diag(undef, $got,
                        $st eq 'eof' ? 'then closed' : 'connection open'));
        } elsif ($verb eq 'close') {
            $conn{$cur}->close if $conn{$cur};
            delete $conn{$cur};
        } elsif ($verb eq 'sleep') {
            sleep $a[0];
        } elsif ($verb eq 'request') {
            my ($spec, $status, $body, $wait) = @a;
            $spec = _request_spec($spec);
            $status //= 200;
            my $r;
            my $err = _poll_check($wait, sub {
                $r = _send($b, $spec);
                return "status $r->{status}, expected $status"
                    unless $r->{status} eq $status;
                return 'body ' . _printable_value($r->{body}) . ', expected '
                       . _want_text($body)
                    if defined $body && !_matches($r->{body}, $body);
                return '';
            });
            ok($err eq '', "$name - step $n: request $spec->{method} "
                           . "$spec->{path}") or diag($err);
        } elsif ($verb eq 'redis') {
            my ($cmd, $want, $wait) = @a;
            $cmd = [Test::IotHub::Redis::words(_subst($cmd))] unless ref $cmd;
            my $err = _poll_check($wait, sub {
                my $r = eval { $redis->cmd(@$cmd) };
                return "died: $@" if $@;
                return '' unless defined $want
                    || Test::IotHub::Redis::is_error($r);
                return 'reply ' . Test::IotHub::Redis::render($r)
                       . (defined $want ? ', expected ' . _want_text($want) : '')
                    if Test::IotHub::Redis::is_error($r)
                       || !_matches(ref $want && ref $want ne 'Regexp' ? $r
                                    : Test::IotHub::Redis::render($r), $want);
                return '';
            });
            ok($err eq '', "$name - step $n: redis @$cmd") or diag($err);
        } elsif ($verb eq 'redis_stop') {
            _stop_redis($a[0]);
        } elsif ($verb eq 'redis_start') {
            _start_redis();
        } elsif ($verb eq 'hup') {
            my $e = _reload();
            ok(!$e, "$name - step $n: reload") or diag($e);
        } elsif ($verb eq 'd2c') {
            # QoS 0 messages and those of a closed connection have no
            # acknowledgement to wait for: expected messages may take a
            # moment (2 s at most, unless said), "none" is checked at once
            my ($want, $wait) = @a;
            my $err = _poll_check($wait // (@$want ? 2 : 0),
                                  sub { _d2c_diff($want) });
            ok($err eq '', "$name - step $n: d2c messages") or diag($err);
        } elsif ($verb eq 'perl') {
            $a[0]->($conn{$cur}, "$name - step $n");
        } else {
            die "$name: unknown mqtt step '$verb'\n";
        }
    }
    for my $cn (sort keys %conn) {   # packets nobody expected
        my $left = $conn{$cn}->pending;
        ok(0, "$name - connection $cn: unexpected bytes at the end")
            or diag(_bytes_diag(undef, $left)) if length $left;
        $conn{$cn}->close;
    }
}

# Runs every block, then done_testing() unless the file declared a plan.
sub run_tests {
    _start_redis();   # before blocks(): eval sections may call redis_cmd
    my $tb = Test::More->builder;
    for my $b (blocks()) {
        my $before = $tb->current_test;
        _run_block($b);
        my @s = $tb->summary;
        diag(_log_tail()) if grep { !$_ } @s[$before .. $#s];
        for my $node (@NODES) {
            my $l = "$node->{prefix}/logs/error.log";
            rename $l, "$l." . $b->seq_num
                if $ENV{TEST_IOTHUB_KEEP} && !$node->{pid} && -s $l;
        }
    }
    if ($HUP && $NODES[0]{pid}) {
        my $e = _stop(\$NODES[0]{pid}, 'QUIT', 10);
        ok(!$e, 'nginx stopped') or diag("nginx $e");
        my @hits = _log_text() =~ /^(.*\[(?:alert|crit|emerg)\].*)$/mg;
        ok(!@hits, 'no [alert], [crit] or [emerg] at shutdown') or diag(@hits);
    }
    _stop_redis();
    Test::More::done_testing() unless $tb->has_plan;
}

# eval sections run in package main, where the helpers above are imported,
# and a failing eval dies instead of silently becoming the section's value.
package Test::IotHub::Filter;
our @ISA = ('Test::Base::Filter');

sub eval {
    my ($self, $code) = @_;
    my @r = CORE::eval("package main; no strict 'vars';\n"
                       . "#line 1 \"eval section\"\n$code");
    die 'eval section of ', $self->current_block->name, " failed: $@" if $@;
    return @r;
}

1;
