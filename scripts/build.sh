#!/bin/sh
# Builds the nginx-iothub dynamic modules against an nginx source tree,
# configured with the flags the distro's nginx binary was built with, so
# that load_module works in that nginx.
#
#   scripts/build.sh [NGINX_SRC]      default: Debian's nginx-dev tree
#
# Output: build/modules/*.so.  Environment for other builds of the same
# sources (make test-asan):
#   BUILD_DIR     the output directory instead of build/ (its own nginx tree)
#   EXTRA_CC_OPT  compiler flags added after the distro's
#   EXTRA_LD_OPT  linker flags added after the distro's
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
src=${NGINX_SRC:-${1:-/usr/share/nginx/src}}
out=${BUILD_DIR:-$top/build}
tree=$out/nginx

MODULES="ngx_iothub_module ngx_http_iothub_module ngx_stream_iothub_mqtt_module ngx_stream_iothub_amqp_module"

if [ ! -x "$src/configure" ]; then
    echo "build: no nginx source tree at $src (apt-get install nginx-dev," \
         "or set NGINX_SRC)" >&2
    exit 1
fi

# the distro binary's own flags: conf_flags plus the dynamic stream and mail
# modules and the extras nginx -V lists, so the module signature matches
flags_file=$src/conf_flags
extra="--with-stream=dynamic --with-stream_ssl_module"
extra="$extra --with-stream_ssl_preread_module --with-stream_realip_module"
extra="$extra --with-mail=dynamic --with-mail_ssl_module"
cc_opt="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"
cc_opt="$cc_opt -fPIC -Wdate-time -D_FORTIFY_SOURCE=2"
ld_opt="-Wl,-z,relro -Wl,-z,now -fPIC"
cc_opt="$cc_opt${EXTRA_CC_OPT:+ $EXTRA_CC_OPT}"
ld_opt="$ld_opt${EXTRA_LD_OPT:+ $EXTRA_LD_OPT}"

stamp=$out/configure.stamp
sig=$( (cat "$flags_file" 2>/dev/null; echo "$extra $cc_opt${EXTRA_LD_OPT:+ $ld_opt}";
        cat "$top/config" "$top"/*/config; ls "$top"/shared/lua) | md5sum)

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sig" ]; then
    rm -rf "$tree"
    mkdir -p "$tree"
    cp -r "$src"/. "$tree"/

    if [ -f "$flags_file" ]; then
        # shellcheck disable=SC1090
        flags=$(bash -c ". '$flags_file'; echo \"\${NGX_CONF_FLAGS[@]}\"")
    else
        flags=
    fi

    (cd "$tree" && eval ./configure $flags $extra \
        --with-cc-opt="'$cc_opt'" --with-ld-opt="'$ld_opt'" \
        --add-dynamic-module="'$top'") > "$out/configure.log" 2>&1 || {
        tail -20 "$out/configure.log" >&2
        exit 1
    }

    echo "$sig" > "$stamp"
fi

# the Lua scripts are embedded at configure time; refresh them every build
sh "$top/shared/lua/embed.sh" "$top/shared/lua" > "$tree/objs/ngx_iothub_lua.h.new"
if ! cmp -s "$tree/objs/ngx_iothub_lua.h.new" "$tree/objs/ngx_iothub_lua.h"; then
    mv "$tree/objs/ngx_iothub_lua.h.new" "$tree/objs/ngx_iothub_lua.h"
else
    rm -f "$tree/objs/ngx_iothub_lua.h.new"
fi

targets=
for m in $MODULES; do
    targets="$targets objs/$m.so"
done

(cd "$tree" && make -s -f objs/Makefile $targets)

mkdir -p "$out/modules"
for m in $MODULES; do
    # a new file, not an overwrite: running nginx processes map the old one
    cp "$tree/objs/$m.so" "$out/modules/$m.so.new"
    mv "$out/modules/$m.so.new" "$out/modules/$m.so"
done
