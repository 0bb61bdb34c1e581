// Bounded closes for NNG sockets: NNG 1.5.2's nng_close can wait forever.
// It has one reaper thread; a close stuck on a connection whose handshake
// never ended stalls it, and every later nng_close waits too (seen: `ktrdr
// serve` hung on SIGTERM in a scheduler's plain close, after an ipc://
// listener's close had stuck). Peers over ipc:// and tcp:// no longer use
// SP sockets (wire.h), which removed the known trigger; the bound stays as
// a safety net for the sockets that remain. Part of net.c's NNG layer
// (io/), included by net.c only.
#ifndef KT_IO_GUARD_H
#define KT_IO_GUARD_H

#include <stdbool.h>

#include <nng/nng.h>

// kt__guard_close_bounded closes sock but waits at most ms for NNG. On
// timeout it logs, leaves the close running on a detached thread and
// returns false: the caller must then not free anything NNG's pipe
// callbacks may still touch. While such a close is still stuck, later
// calls return false at once without closing: NNG's single reaper is
// stalled and any nng_close would wait forever.
bool kt__guard_close_bounded(nng_socket sock, int ms);

#endif // KT_IO_GUARD_H
