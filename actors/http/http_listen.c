// http_listen.c: the bridge's listening sockets. One loop: one plain
// socket. n loops: n sockets in one SO_REUSEPORT group, so the kernel
// spreads connections over the loops; a plain probe bind first keeps "a
// taken port fails the spawn" (a reuseport group would otherwise let a
// second server of the same user share the port silently).
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

static uint16_t
sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return 0;
    }
    return ntohs(ss.ss_family == AF_INET6
                     ? ((struct sockaddr_in6 *)&ss)->sin6_port
                     : ((struct sockaddr_in *)&ss)->sin_port);
}

// bind_one binds and listens one socket; reuse adds SO_REUSEPORT.
static kt_err
bind_one(const struct addrinfo *ai, bool reuse, bool do_listen, int *out)
{
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    kt_err err;

    if (fd < 0) {
        return KT_ESYSERR | errno;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuse &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        (do_listen && listen(fd, 511) != 0) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        err = KT_ESYSERR | errno;
        close(fd);
        return err;
    }
    *out = fd;
    return KT_OK;
}

static kt_err
listen_group(const char *host, uint16_t port, uint32_t n, int *fds,
             uint16_t *bound)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[8];
    kt_err err;
    uint32_t i = 0;
    int probe, rc;

    (void)snprintf(ps, sizeof(ps), "%u", port);
    if ((rc = getaddrinfo(host, ps, &hints, &ai)) != 0) {
        return rc == EAI_SYSTEM ? KT_ESYSERR | errno : KT_EINVAL;
    }
    // The probe: fails when anything holds the port; picks port 0's port.
    if ((err = bind_one(ai, false, false, &probe)) != KT_OK) {
        goto done;
    }
    port = sock_port(probe);
    close(probe);
    if (ai->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(port);
    } else {
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(port);
    }
    for (; i < n; i++) {
        if ((err = bind_one(ai, n > 1, true, &fds[i])) != KT_OK) {
            goto done;
        }
    }
    *bound = port;
done:
    if (err != KT_OK) {
        while (i > 0) {
            close(fds[--i]);
        }
    }
    freeaddrinfo(ai);
    return err;
}

kt_err
kt__http_listen(const char *host, uint16_t port, uint32_t n, int *fds,
                uint16_t *bound)
{
    kt_err err = KT_EAGAIN;

    // Port 0: another process may take the probed port before the group
    // binds it; try a few ports.
    for (int tries = 0; tries < (port == 0 ? 8 : 1) && err != KT_OK; tries++) {
        err = listen_group(host, port, n, fds, bound);
    }
    return err;
}
