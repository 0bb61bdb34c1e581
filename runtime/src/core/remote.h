// Listeners and remote delivery shared by remote.c and proxy.c.
#ifndef KT_CORE_REMOTE_H
#define KT_CORE_REMOTE_H

#include "core/actor.h"
#include "io/net.h"

// kt__remote_deliver hands m, from `from`, to the endpoint at `to` (by id,
// or by name when to->receiver is 0). KT_EAGAIN leaves m with the caller;
// any other failure is logged and frees m.
kt_err kt__remote_deliver(kt_runtime *rt, kt_aid from, kt_msg *m,
                          const kt__addr *to);
// kt__remote_watch: when ep is a stub (a sender on another process's
// connection), watcher receives KT_MSG_DOWN (reason KT_ECLOSED) once that
// connection closes. KT_ENOENT when ep is not a stub. Call with the
// registry's read lock held (the stub stays alive meanwhile).
kt_err kt__remote_watch(kt__ep *ep, kt_aid watcher);
// kt__remote_close_all closes the listeners of a stopping runtime.
void kt__remote_close_all(kt_runtime *rt);

#endif // KT_CORE_REMOTE_H
