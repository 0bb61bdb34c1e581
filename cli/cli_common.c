// cli_common.c: option parsing, error lines and the backend connection of
// the `ktrdr` commands.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int
cli_parse(int argc, char **argv, const cli_opt *opts, const char **pos,
          int max_pos, int *npos, const char *cmd)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;

        if (a[0] != '-' || a[1] == '\0') {
            if (*npos == max_pos) {
                return cli_usage(cmd, "unexpected argument '%s'", a);
            }
            pos[(*npos)++] = a;
            continue;
        }
        for (o = opts; o != NULL && o->name != NULL; o++) {
            if (strlen(o->name) == n && strncmp(o->name, a, n) == 0) {
                break;
            }
        }
        if (o == NULL || o->name == NULL) {
            return cli_usage(cmd, "unknown option '%.*s'", (int)n, a);
        }
        if (o->flag != NULL) {
            if (eq != NULL) {
                return cli_usage(cmd, "%s takes no value", o->name);
            }
            *o->flag = true;
        } else if (eq != NULL) {
            *o->str = eq + 1;
        } else if (i + 1 < argc) {
            *o->str = argv[++i];
        } else {
            return cli_usage(cmd, "%s needs a value", o->name);
        }
    }
    return CLI_OK;
}

int
cli_u32(const char *opt, const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (s == NULL) {
        return CLI_OK;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > UINT32_MAX) {
        fprintf(stderr, "Error: %s must be a whole number, got '%s'\n", opt, s);
        return CLI_USAGE;
    }
    *out = (uint32_t)v;
    return CLI_OK;
}

int
cli_double(const char *opt, const char *s, double *out)
{
    char *end;
    double v;

    if (s == NULL) {
        return CLI_OK;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || v != v) {
        fprintf(stderr, "Error: %s must be a number, got '%s'\n", opt, s);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

static int
verror(const cli_ctx *c, const char *fmt, va_list ap)
{
    char buf[2048];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (c != NULL && c->json) {
        json_t *j = json_pack("{s:s,s:s}", "status", "error", "message", buf);
        (void)cli_json_print(j);
    } else {
        fprintf(stderr, "Error: %s\n", buf);
    }
    return CLI_ERR;
}

int
cli_error(const cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = verror(c, fmt, ap);
    va_end(ap);
    return rv;
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee 'ktrdr %s --help'.\n", cmd);
    return CLI_USAGE;
}

int
cli_fail(const cli_ctx *c, int32_t status, const char *message)
{
    if (message != NULL && message[0] != '\0') {
        return cli_error(c, "%s", message);
    }
    return cli_error(c, "%s", kt_strerror((kt_err)status));
}

// backend_down: the one line that says how to start the backend.
static int
backend_down(const cli_ctx *c, const char *why)
{
    return cli_error(c,
                     "backend not running at %s (%s); start it with "
                     "'ktrdr serve --data-dir %s'",
                     c->url, why, c->data_dir);
}

// probe_ipc / probe_tcp: a missing backend is reported at once instead of
// after an ask timeout. For ipc the socket file must exist and, when the
// data directory's lock file sits beside it, a backend must hold that lock
// (a crashed backend leaves a stale socket). No connect() on the ipc socket:
// NNG 1.5.2's ipc listener stops accepting after a connection that closes
// before its handshake.
static int
probe_ipc(const cli_ctx *c, const char *path)
{
    char lock[4300];
    const char *slash = strrchr(path, '/');
    struct stat st;
    int fd;

    if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return backend_down(c, "no socket");
    }
    snprintf(lock, sizeof(lock), "%.*s/ktrdr.lock",
             slash != NULL ? (int)(slash - path) : 1,
             slash != NULL ? path : ".");
    if ((fd = open(lock, O_RDONLY | O_CLOEXEC)) < 0) {
        return CLI_OK; // not a `ktrdr serve` layout: let the ask tell
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return backend_down(c, "stale socket, no backend holds the lock");
    }
    close(fd);
    return CLI_OK;
}

static int
probe_tcp(const cli_ctx *c, const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    struct pollfd p = {.events = POLLOUT};
    int err = 0, ok;
    socklen_t el = sizeof(err);

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
        return CLI_OK;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        return backend_down(c, "unknown host");
    }
    p.fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ok = p.fd >= 0 &&
         (connect(p.fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
          (errno == EINPROGRESS && poll(&p, 1, 1000) == 1 &&
           getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0));
    if (p.fd >= 0) {
        close(p.fd);
    }
    freeaddrinfo(ai);
    return ok ? CLI_OK : backend_down(c, "connection refused");
}

int
cli_connect(cli_ctx *c)
{
    kt_runtime_cfg rc = {.threads = 1};
    int rv = CLI_OK;
    kt_err err;

    if (strncmp(c->url, "ipc://", 6) == 0) {
        rv = probe_ipc(c, c->url + 6);
    } else if (strncmp(c->url, "tcp://", 6) == 0) {
        rv = probe_tcp(c, c->url + 6);
    }
    if (rv != CLI_OK) {
        return rv;
    }
    if ((err = kt_runtime_start(&c->rt, &rc)) != KT_OK) {
        return cli_error(c, "cannot start the runtime: %s", kt_strerror(err));
    }
    if ((err = kt_remote_connect(c->rt, c->url, KT_OPS_NAME, &c->ops)) !=
        KT_OK) {
        cli_disconnect(c);
        return cli_error(c, "cannot connect to %s: %s", c->url,
                         kt_strerror(err));
    }
    return CLI_OK;
}

kt_aid
cli_persist(cli_ctx *c)
{
    // Dialed on first use: most commands only talk to the operations actor,
    // and every dial costs a connection set-up.
    if (c->persist == 0 && kt_remote_connect(c->rt, c->url, KT_PERSIST_NAME,
                                             &c->persist) != KT_OK) {
        c->persist = 0;
    }
    return c->persist;
}

void
cli_disconnect(cli_ctx *c)
{
    if (c->rt != NULL) {
        kt_runtime_stop(c->rt);
        c->rt = NULL;
    }
}

int
cli_call(cli_ctx *c, kt_aid to, uint32_t type, const ProtobufCMessage *req,
         const ProtobufCMessageDescriptor *rep_desc, uint32_t timeout_ms,
         ProtobufCMessage **repp)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    ProtobufCMessage *rep;
    kt_msg *m, *r = NULL;
    kt_err err;

    if (kt_msg_alloc(&m, type, n) != KT_OK) {
        return cli_error(c, "out of memory");
    }
    protobuf_c_message_pack(req, kt_msg_body(m));
    if ((err = kt_runtime_ask(c->rt, to, m, timeout_ms, &r)) != KT_OK) {
        if (err != KT_ETIMEDOUT) {
            kt_msg_free(m);
            return cli_error(c, "request failed: %s", kt_strerror(err));
        }
        return cli_error(c,
                         "backend at %s did not answer within %u s; is it "
                         "running? (start it with 'ktrdr serve')",
                         c->url, (timeout_ms + 999) / 1000);
    }
    rep = protobuf_c_message_unpack(rep_desc, NULL, kt_msg_len(r),
                                    kt_msg_cbody(r));
    kt_msg_free(r);
    if (rep == NULL) {
        return cli_error(c, "malformed reply from the backend");
    }
    *repp = rep;
    return CLI_OK;
}
