// A watchdog for a listener whose accept loop NNG 1.5.2 can stop for good:
// a connection that closes before the SP handshake ends (a plain connect()
// and close() on an ipc:// path, a port scan, a client writing garbage and
// going) can fail its negotiation with NNG_ECLOSED, which NNG's listener
// takes for "the listener was closed": it stops accepting, silently (NNG
// issue #1518, fixed upstream in 1.6.0; Debian 12 ships 1.5.2 without the
// fix). Part of net.c's NNG layer (io/), included by net.c only.
#ifndef KT_IO_GUARD_H
#define KT_IO_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include <kt/err.h>

typedef struct kt__guard kt__guard;

// kt__guard_start watches listener lst of sock (listening at url) from a
// thread of its own: every few hundred ms it dials the listener; when NNG
// does not accept that connection in time, it closes the listener and
// listens again at the same url (connections already accepted stay up).
// Errors: KT_ENOMEM.
kt_err kt__guard_start(kt__guard **gp, nng_socket sock, nng_listener lst,
                       const char *url);
// kt__guard_stop ends the thread (NULL: no-op); kt__guard_free then frees
// g, once no pipe callback can run (after the socket is closed).
void kt__guard_stop(kt__guard *g);
void kt__guard_free(kt__guard *g);
// kt__guard_pipe_added counts the listener's accepted connections (NNG's
// pipe callback, any thread).
void kt__guard_pipe_added(kt__guard *g);
// kt__guard_relistens: how many times the listener was opened again.
uint64_t kt__guard_relistens(kt__guard *g);

// kt__guard_close_bounded closes sock but waits at most ms for NNG: 1.5.2's
// nng_close can wait forever on a connection its stopped listener never
// finished (see above). On timeout it logs, leaves the close running on a
// detached thread and returns false: the caller must then not free
// anything NNG's pipe callbacks may still touch. While such a close is
// still stuck, later calls return false at once without closing: NNG's
// single reaper is stalled and any nng_close would wait forever.
bool kt__guard_close_bounded(nng_socket sock, int ms);

#endif // KT_IO_GUARD_H
