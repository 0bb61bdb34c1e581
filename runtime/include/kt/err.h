// kt/err.h: the one error enum of the project (STYLE.md 3.4) and the
// attribute macros public headers share. Header-only apart from
// kt_strerror(), which lives in the runtime library.
#ifndef KT_ERR_H
#define KT_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

#define KT_API          __attribute__((visibility("default")))
#define KT_NODISCARD    __attribute__((warn_unused_result))
#define KT_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum kt_err {
    KT_OK = 0,
    KT_ENOMEM,               // allocation failed
    KT_EINVAL,               // bad argument or bad input
    KT_ECLOSED,              // object or runtime closed
    KT_EAGAIN,               // mailbox full
    KT_ETIMEDOUT,            // deadline passed
    KT_ENOENT,               // no such actor, operation, checkpoint, file
    KT_ESTATE,               // wrong state for the request
    KT_EPROTO,               // malformed message
    KT_EDB,                  // sqlite failure (logged where it happened)
    KT_ENET,                 // nng failure (logged where it happened)
    KT_EVERSION,             // incompatible format version
    KT_ECORRUPT,             // data failed its checksum or could not be decoded
    KT_ECANCELED,            // the work was cancelled
    KT_ESYSERR = 0x10000000, // OR-ed with errno
} kt_err;

// kt_strerror returns a static English description of err (never NULL).
// For KT_ESYSERR|errno it returns strerror(errno)'s text.
KT_API const char *kt_strerror(kt_err err);

#ifdef __cplusplus
}
#endif

#endif // KT_ERR_H
