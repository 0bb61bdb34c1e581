#!/bin/sh
# static_link.sh: the linker launcher of `ktrdr` (cli/CMakeLists.txt). It
# runs the link command it is given with each third-party shared library
# (/usr/.../libX.so[.N]) replaced by its static archive libX.a when one is
# installed beside it, so the CLI starts without loading and relocating a
# dozen shared objects (about 0.8 ms of every `ktrdr` command). NNG's TLS
# libraries follow a static libnng. A library without an archive stays
# shared, so the link never fails for want of one.
set -eu
nng_static=
first=1
for a in "$@"; do
    if [ $first = 1 ]; then
        set --
        first=0
    fi
    case $a in
    /usr/*/lib*.so | /usr/*/lib*.so.*)
        static="${a%%.so*}.a"
        if [ -f "$static" ]; then
            case $static in */libnng.a) nng_static=${static%/*} ;; esac
            a=$static
        fi
        ;;
    esac
    set -- "$@" "$a"
done
if [ -n "$nng_static" ]; then
    for l in mbedtls mbedx509 mbedcrypto; do
        if [ -f "$nng_static/lib$l.a" ]; then
            set -- "$@" "$nng_static/lib$l.a"
        else
            set -- "$@" "-l$l"
        fi
    done
fi
exec "$@"
