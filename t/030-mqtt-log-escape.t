# Log lines escape what a device sends (issue 8, defect 7): a topic or a
# subscription filter with a line feed cannot start a forged log line;
# control bytes appear as \xHH (docs/architecture.md, "Log lines").

use lib 't/lib';
use Test::IotHub;

require_modules(qw(core http mqtt));

run_tests();

__DATA__

=== TEST 1: SUBSCRIBE to an unknown filter with a line feed: SUBACK 0x80, the filter escaped in the log
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_subscribe(1, ["x\n2026/12/06 00:00:00 [emerg] FORGED", 0])],
 [expect => mqtt_suback(1, 0x80)]]
--- error_log eval
[qr/SUBSCRIBE to unknown filter "x\\x0a2026\/12\/06 00:00:00 \[emerg\] FORGED"/]
--- no_error_log eval
[qr/^2026\/12\/06 00:00:00 \[emerg\] FORGED/m]



=== TEST 2: PUBLISH to an unknown topic with a line feed: closed, the topic escaped in the log
--- request eval
put_device('dev1')
--- mqtt eval
[[connect => 'dev1'],
 [send => mqtt_publish(topic => "y\nFORGED-LINE \"quoted\"", qos => 0,
                       payload => 'p')],
 ['closed']]
--- error_log eval
[qr/PUBLISH to unknown topic "y\\x0aFORGED-LINE \\"quoted\\""/]
--- no_error_log eval
[qr/^FORGED-LINE/m]
