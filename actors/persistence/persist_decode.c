// persist_decode.c: a CheckpointEvent decoder that borrows the artifact and
// state bytes from the received message instead of copying them (protobuf-c
// unpack mallocs and copies every bytes field: for a 16 MiB artifact that
// is 16 MiB of fresh pages faulted in on the save's critical path). Only
// the short strings (op id, unit, artifact names) are copied, to
// NUL-terminate them. Wire format as protobuf-c reads it: last value wins
// for scalars, artifacts append, unknown fields are skipped, a known field
// with the wrong wire type, a truncated field or a group is malformed.
#include <stdlib.h>
#include <string.h>

#include "persistence/persist_int.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct dec_buf {
    const uint8_t *p, *end;
} dec_buf;

typedef struct dec_field {
    uint32_t num, wt;
    uint64_t v;          // varint value
    const uint8_t *data; // WT_LEN payload
    size_t len;
} dec_field;

// dec_varint reads a varint of at most max bytes (bits past 64 dropped,
// as protobuf-c does).
static bool
dec_varint(dec_buf *b, uint64_t *v, int max)
{
    uint64_t x = 0;

    for (int i = 0; i < max; i++) {
        if (b->p >= b->end) {
            return false;
        }
        uint8_t c = *b->p++;
        x |= i < 10 ? (uint64_t)(c & 0x7f) << (7 * i) : 0;
        if ((c & 0x80) == 0) {
            *v = x;
            return true;
        }
    }
    return false;
}

// dec_next reads one field; false at the end (*ok stays true) or on a
// malformed one (*ok = false).
static bool
dec_next(dec_buf *b, dec_field *f, bool *ok)
{
    uint64_t key, len;

    if (b->p >= b->end) {
        return false;
    }
    *ok = false;
    // protobuf-c's rule: a key of at most 5 bytes whose first byte holds a
    // non-zero field number bit (a non-minimal field 0 is an unknown field).
    if ((*b->p & 0xf8) == 0 || !dec_varint(b, &key, 5)) {
        return false;
    }
    f->num = (uint32_t)(key >> 3);
    f->wt = (uint32_t)(key & 7);
    switch (f->wt) {
    case WT_VARINT:
        if (!dec_varint(b, &f->v, 10)) {
            return false;
        }
        break;
    case WT_I64:
    case WT_I32:
        len = f->wt == WT_I64 ? 8 : 4;
        if ((size_t)(b->end - b->p) < len) {
            return false;
        }
        b->p += len;
        break;
    case WT_LEN:
        if (!dec_varint(b, &len, 10) || len > (uint64_t)(b->end - b->p)) {
            return false;
        }
        f->data = b->p;
        f->len = (size_t)len;
        b->p += len;
        break;
    default: // groups (3, 4) and 6, 7: protobuf-c refuses them too
        return false;
    }
    *ok = true;
    return true;
}

// dec_str copies a string field into the arena (NULL arena: count only).
static const char *
dec_str(kt__ckpt_decoded *d, const dec_field *f)
{
    char *s;

    if (d->strs == NULL) {
        d->strs_len += f->len + 1;
        return "";
    }
    s = d->strs + d->strs_len;
    memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    d->strs_len += f->len + 1;
    return s;
}

static bool
dec_artifact(kt__ckpt_decoded *d, const dec_field *outer, kt_ckpt_artifact *a)
{
    dec_buf b = {outer->data, outer->data + outer->len};
    dec_field f = {0};
    size_t sha_len = 0;
    bool ok = true;

    *a = (kt_ckpt_artifact){.name = ""};
    while (dec_next(&b, &f, &ok)) {
        if (f.num >= 1 && f.num <= 3 && f.wt != WT_LEN) {
            return false;
        }
        if (f.num == 4 && f.wt != WT_VARINT) {
            return false;
        }
        if (f.num == 1) {
            a->name = dec_str(d, &f);
        } else if (f.num == 2) {
            a->data = f.data;
            a->len = f.len;
        } else if (f.num == 3) {
            a->sha256 = f.len > 0 ? f.data : NULL;
            sha_len = f.len; // the last one counts
        }
    }
    d->bad_hash |= sha_len != 0 && sha_len != KT_SHA256_LEN;
    return ok;
}

// dec_pass walks the event; with d->arts == NULL it only counts artifacts
// and string bytes.
static bool
dec_pass(kt__ckpt_decoded *d, const uint8_t *p, size_t n)
{
    static const uint8_t wt[10] = {0,         WT_LEN,   WT_VARINT, WT_VARINT,
                                   WT_VARINT, WT_LEN,   WT_VARINT, WT_LEN,
                                   WT_LEN,    WT_VARINT};
    kt_ckpt_event *e = &d->e;
    dec_buf b = {p, p != NULL ? p + n : p};
    dec_field f = {0};
    bool ok = true;

    *e = (kt_ckpt_event){.op_id = "", .unit = "", .artifacts = d->arts};
    d->strs_len = 0;
    while (dec_next(&b, &f, &ok)) {
        if (f.num >= 1 && f.num <= 9 && f.wt != wt[f.num]) {
            return false;
        }
        switch (f.num) {
        case 1:
            e->op_id = dec_str(d, &f);
            break;
        case 2:
            e->attempt = (uint32_t)f.v;
            break;
        case 3:
            e->seq = f.v;
            break;
        case 4:
            e->type = (kt_ckpt_type)(int32_t)f.v;
            break;
        case 5:
            e->unit = dec_str(d, &f);
            break;
        case 6:
            e->unit_value = (int64_t)f.v;
            break;
        case 7:
            e->state = f.data;
            e->state_len = f.len;
            break;
        case 8:
            if (d->arts != NULL &&
                !dec_artifact(d, &f, &d->arts[e->nartifacts])) {
                return false;
            }
            if (d->arts == NULL && !dec_artifact(d, &f, &d->scratch)) {
                return false;
            }
            e->nartifacts++;
            break;
        case 9:
            e->format_version = (uint32_t)f.v;
            break;
        default:
            break; // unknown: skipped
        }
    }
    return ok;
}

kt_err
kt__persist_decode_event(const uint8_t *p, size_t n, kt__ckpt_decoded *d)
{
    memset(d, 0, sizeof(*d));
    if (!dec_pass(d, p, n)) { // count
        return KT_EPROTO;
    }
    d->arts = calloc(d->e.nartifacts + 1, sizeof(*d->arts));
    d->strs = malloc(d->strs_len + 1);
    if (d->arts == NULL || d->strs == NULL) {
        kt__persist_decoded_fini(d);
        return KT_ENOMEM;
    }
    d->bad_hash = false;
    if (!dec_pass(d, p, n)) { // fill: cannot fail where counting did not
        kt__persist_decoded_fini(d);
        return KT_EPROTO;
    }
    return KT_OK;
}

void
kt__persist_decoded_fini(kt__ckpt_decoded *d)
{
    free(d->arts);
    free(d->strs);
    d->arts = NULL;
    d->strs = NULL;
}
