// kt/msg.h: messages between actors. A message has exactly one owner
// (STYLE.md 3.5): kt_msg_alloc gives it to the caller; a successful send
// moves it to the runtime; a failed send leaves it with the caller.
#ifndef KT_MSG_H
#define KT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_msg kt_msg;

// An actor id, unique within one runtime for its lifetime (never reused).
// 0 means "no actor".
typedef uint64_t kt_aid;

// Message types: 1-99 belong to the runtime, the rest to actors (each actor
// header documents its range).
enum {
    KT_MSG_DOWN = 1,    // body: ktpb.v1.Down; a monitored actor stopped
    KT_MSG_TIMER = 2,   // body empty; kt_msg_corr() is the timer's tag
    KT_MSG_TIMEOUT = 3, // body empty; an ask with kt_msg_corr() timed out
    KT_MSG_PING = 4,    // proxy -> listener keepalive (never reaches actors)
    KT_MSG_PONG = 5,    // listener -> proxy answer (never reaches actors)
    KT_MSG_REDIAL = 6,  // to a proxy: drop the connection and dial again
    KT_MSG_USER = 100,  // first type free for actors
};

// kt_msg_alloc allocates a message of the given type with a body of len
// bytes (uninitialised). Errors: KT_ENOMEM.
KT_API KT_NODISCARD kt_err kt_msg_alloc(kt_msg **msgp, uint32_t type,
                                        size_t len);
// kt_msg_free releases a message the caller owns (NULL is a no-op).
KT_API void kt_msg_free(kt_msg *msg);

KT_API void *kt_msg_body(kt_msg *msg);
KT_API const void *kt_msg_cbody(const kt_msg *msg);
KT_API size_t kt_msg_len(const kt_msg *msg);
KT_API uint32_t kt_msg_type(const kt_msg *msg);
// The sender's actor id (0 from outside any actor) and the correlation id
// (non-zero on asks and their replies, the tag on timers).
KT_API kt_aid kt_msg_sender(const kt_msg *msg);
KT_API uint64_t kt_msg_corr(const kt_msg *msg);

#ifdef __cplusplus
}
#endif

#endif // KT_MSG_H
