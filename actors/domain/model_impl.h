// model_impl.h: the model's fields, shared by model.c (object, checks,
// SHA-256), model_io.c and model_load.c (the directory format). Not
// public.
#ifndef KT_DOMAIN_MODEL_IMPL_H
#define KT_DOMAIN_MODEL_IMPL_H

#include "domain/model.h"

struct kt_model {
    kt_mlp *mlp;
    char **names;
    size_t n_names;
    char *strategy;
    char *timeframe;
    kt_train_metrics train;
    kt_test_metrics test;
    int64_t created_at;
};

// kt__model_fail formats the message into err (when errlen > 0) and
// returns rv.
KT_PRINTF(4, 5)
kt_err kt__model_fail(kt_err rv, char *err, size_t errlen, const char *fmt,
                      ...);

// kt__model_errno reports system error e of `what` on path (through
// kt__model_fail); KT_ENOENT for ENOENT, else KT_ESYSERR | e.
kt_err kt__model_errno(int e, char *err, size_t errlen, const char *what,
                       const char *path);
// kt__model_hex writes digest d as 64 lowercase hex digits and a NUL.
void kt__model_hex(const uint8_t d[32], char out[65]);

#endif // KT_DOMAIN_MODEL_IMPL_H
