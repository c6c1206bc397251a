# nginx-iothub: build, install, run and test the nginx modules.
#
#   make run       install what is missing, build, start a local hub
#   make test      every test: unit, t/ (prove), end-to-end with the SDKs
#   make test-asan the t/ suites against modules built with ASan+UBSan
#   make fuzz      every libFuzzer target for FUZZ_SECONDS each
#
# NGINX_SRC names another nginx source tree (default: Debian's nginx-dev).

NGINX_SRC   ?= /usr/share/nginx/src
DESTDIR     ?=
MODULES_DIR ?= /usr/lib/nginx/modules
AVAILABLE   ?= /usr/share/nginx/modules-available
ENABLED     ?= /etc/nginx/modules-enabled

CC          ?= cc
UNIT_CFLAGS  = -std=gnu99 -g -Wall -Wextra -Wpointer-arith -Werror \
               -Ishared -Ingx_iothub_mqtt -Ingx_iothub_http -Ingx_iothub_amqp
UNIT_LIBS    = -lcmocka -lyajl -lcrypto -lhiredis -lqpid-proton -lm
UNIT_TESTS   = $(patsubst t/unit/%.c,build/unit/%,$(wildcard t/unit/test_*.c))

# the pure C parts: no nginx headers, linked alone into tests and fuzzers
PURE_SRCS    = shared/ngx_iothub_sas.c shared/ngx_iothub_identity.c \
               shared/ngx_iothub_blob_sas.c \
               shared/ngx_iothub_bulkjob_lines.c \
               shared/ngx_iothub_identity_out.c \
               shared/ngx_iothub_twin.c shared/ngx_iothub_twin_json.c \
               shared/ngx_iothub_twin_view.c \
               shared/ngx_iothub_json.c shared/ngx_iothub_log.c \
               shared/ngx_iothub_method_codec.c \
               shared/ngx_iothub_inbox_codec.c \
               shared/ngx_iothub_reply.c \
               shared/ngx_iothub_args.c shared/ngx_iothub_resp.c \
               shared/ngx_iothub_d2c_pack.c \
               shared/ngx_iothub_query_parse.c \
               shared/ngx_iothub_query_eval.c \
               shared/ngx_iothub_job_codec.c \
               shared/ngx_iothub_eh_filter.c \
               ngx_iothub_http/ngx_iothub_http_route.c \
               ngx_iothub_http/ngx_iothub_http_c2d_headers.c \
               ngx_iothub_http/ngx_iothub_http_d2c.c \
               ngx_iothub_http/ngx_iothub_http_paging.c \
               ngx_iothub_http/ngx_iothub_ws_codec.c \
               shared/ngx_iothub_x509.c shared/ngx_iothub_props.c \
               ngx_iothub_mqtt/ngx_iothub_mqtt_parse.c \
               ngx_iothub_mqtt/ngx_iothub_mqtt_topic.c \
               ngx_iothub_amqp/ngx_iothub_amqp_address.c \
               ngx_iothub_amqp/ngx_iothub_amqp_batch.c \
               ngx_iothub_amqp/ngx_iothub_amqp_codec.c \
               ngx_iothub_amqp/ngx_iothub_amqp_sections.c \
               ngx_iothub_amqp/ngx_iothub_amqp_encode.c

.PHONY: all build deps deps-run install run test unit prove e2e fuzz \
        build-asan test-asan style clean

all: build

deps:
	scripts/deps.sh test

deps-run:
	scripts/deps.sh run

build: build/iothub-token
	NGINX_SRC=$(NGINX_SRC) scripts/build.sh

# a SAS token for a connection string, for scripts and operators
build/iothub-token: tools/iothub_token.c shared/ngx_iothub_sas.c \
                    shared/ngx_iothub_sas.h
	@mkdir -p build
	$(CC) $(UNIT_CFLAGS) -O2 -o $@ tools/iothub_token.c \
	    shared/ngx_iothub_sas.c -lcrypto

install: build
	install -d $(DESTDIR)$(MODULES_DIR) $(DESTDIR)$(AVAILABLE) \
	    $(DESTDIR)$(ENABLED)
	install -m 644 build/modules/*.so $(DESTDIR)$(MODULES_DIR)/
	install -m 644 scripts/mod-iothub.conf $(DESTDIR)$(AVAILABLE)/
	ln -sf $(AVAILABLE)/mod-iothub.conf \
	    $(DESTDIR)$(ENABLED)/60-mod-iothub.conf

run: deps-run build
	scripts/run.sh

test: deps build unit prove e2e

build/unit/%: t/unit/%.c $(PURE_SRCS) shared/*.h ngx_iothub_mqtt/*.h \
             ngx_iothub_http/*.h ngx_iothub_amqp/ngx_iothub_amqp_address.h \
             t/unit/*.h
	@mkdir -p build/unit
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) $(UNIT_LIBS)

unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

prove: build
	prove -I t/lib t/

e2e: build
	t/e2e/run.sh

# The modules built with AddressSanitizer and UndefinedBehaviorSanitizer
# into build/asan/ (their own nginx tree), and the t/ suites run against
# them.  The distro nginx is not instrumented: the ASan runtime is preloaded
# into it.  Any report fails the block that caused it (the harness checks
# error.log, where nginx sends the workers' stderr): ASan stops the process
# at the first error, UBSan reports each and goes on.  No leak check at
# exit: the uninstrumented nginx and OpenSSL keep memory until exit by
# design, which would bury real reports; growth while running is the
# valgrind run's (TEST_IOTHUB_VALGRIND=1) and the soak benchmarks' job.
ASAN_DIR     = build/asan
ASAN_CC_OPT  = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
ASAN_LD_OPT  = -fsanitize=address,undefined
ASAN_RT      = $(shell $(CC) -print-file-name=libasan.so)
ASAN_OPTS    = detect_leaks=0:detect_stack_use_after_return=1
ASAN_OPTS   := $(ASAN_OPTS):check_initialization_order=1:strict_string_checks=1
ASAN_OPTS   := $(ASAN_OPTS):suppressions=$(CURDIR)/t/lib/asan.supp
ASAN_ENV     = IOTHUB_MODULES_DIR=$(CURDIR)/$(ASAN_DIR)/modules \
               TEST_IOTHUB_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=$(ASAN_OPTS) \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0

build-asan:
	BUILD_DIR=$(CURDIR)/$(ASAN_DIR) EXTRA_CC_OPT="$(ASAN_CC_OPT)" \
	    EXTRA_LD_OPT="$(ASAN_LD_OPT)" NGINX_SRC=$(NGINX_SRC) scripts/build.sh

test-asan: deps build-asan
	@test -f "$(ASAN_RT)" || { echo "test-asan: no libasan.so" >&2; exit 1; }
	$(ASAN_ENV) prove -I t/lib t/

# libFuzzer targets (every fuzz/fuzz_*.c); FUZZ_SECONDS each, with
# fuzz/<target>.dict as its dictionary when there is one; an input that
# crashes one is kept as build/fuzz/<target>-crash-<sha1>
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p build/fuzz
	@for f in fuzz/fuzz_*.c; do \
	    n=$$(basename $$f .c); \
	    clang -g -O1 -fsanitize=fuzzer,address,undefined \
	        -fno-sanitize-recover=all -Ishared -Ingx_iothub_mqtt \
	        -Ingx_iothub_http -Ingx_iothub_amqp -o build/fuzz/$$n $$f \
	        $(PURE_SRCS) -lyajl -lcrypto -lhiredis -lqpid-proton -lm || exit 1; \
	    mkdir -p build/fuzz/$$n.corpus; \
	    dict=; test -f fuzz/$$n.dict && dict=-dict=fuzz/$$n.dict; \
	    build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) $$dict \
	        -artifact_prefix=build/fuzz/$$n- \
	        build/fuzz/$$n.corpus || exit 1; \
	done

style:
	scripts/style.sh

clean:
	rm -rf build
