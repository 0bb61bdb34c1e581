// Error descriptions for kt_err.
#include <string.h>

#include <kt/err.h>

const char *
kt_strerror(kt_err err)
{
    if ((err & KT_ESYSERR) != 0) {
        return strerror((int)(err & ~KT_ESYSERR));
    }
    switch (err) {
    case KT_OK:
        return "ok";
    case KT_ENOMEM:
        return "out of memory";
    case KT_EINVAL:
        return "invalid argument";
    case KT_ECLOSED:
        return "closed";
    case KT_EAGAIN:
        return "mailbox full, try again";
    case KT_ETIMEDOUT:
        return "timed out";
    case KT_ENOENT:
        return "not found";
    case KT_ESTATE:
        return "wrong state";
    case KT_EPROTO:
        return "malformed message";
    case KT_EDB:
        return "database error";
    case KT_ENET:
        return "network error";
    case KT_EVERSION:
        return "version mismatch";
    case KT_ECORRUPT:
        return "corrupt data";
    case KT_ECANCELED:
        return "cancelled";
    default:
        return "unknown error";
    }
}
