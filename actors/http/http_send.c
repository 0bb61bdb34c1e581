// http_send.c: the bridge's responses: JSON bodies (rendered by jansson
// or already rendered by the view) and the JSON error shape
// {"success":false,"error":{"code","message"},"detail":message}.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http/http_int.h"

void
kt__http_send_text(struct evhttp_request *req, int code, const char *txt,
                   size_t len)
{
    // Straight into the request's own output buffer: no evbuffer per reply.
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (txt != NULL) {
        evbuffer_add(evhttp_request_get_output_buffer(req), txt, len);
    }
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", NULL);
}

void
kt__http_send_json(struct evhttp_request *req, int code, json_t *j)
{
    char *txt =
        j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    kt__http_send_text(req, code, txt, txt != NULL ? strlen(txt) : 0);
    free(txt);
    json_decref(j);
}

static const char *
code_name(int code)
{
    switch (code) {
    case 400:
        return "BAD_REQUEST";
    case 401:
        return "UNAUTHORIZED";
    case 404:
        return "NOT_FOUND";
    case 405:
        return "METHOD_NOT_ALLOWED";
    case 409:
        return "CONFLICT";
    case 413:
        return "PAYLOAD_TOO_LARGE";
    case 429:
        return "TOO_MANY_REQUESTS";
    case 431:
        return "HEADERS_TOO_LARGE";
    case 422:
        return "VALIDATION_ERROR";
    case 503:
        return "SERVICE_UNAVAILABLE";
    default:
        return "INTERNAL_ERROR";
    }
}

void
kt__http_send_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kt__http_send_json(req, code,
                       json_pack("{s:b,s:{s:s,s:s},s:s}", "success", 0, "error",
                                 "code", code_name(code), "message", msg,
                                 "detail", msg));
}

void
kt__http_send_status(struct evhttp_request *req, int32_t status,
                     const char *message)
{
    int code;

    switch (status) {
    case KT_ENOENT:
        code = 404;
        break;
    case KT_ESTATE:
    case KT_EVERSION:
        code = 409;
        break;
    case KT_EINVAL:
    case KT_ECORRUPT:
        code = 422;
        break;
    case KT_ETIMEDOUT:
    case KT_ECLOSED:
    case KT_EAGAIN:
        code = 503;
        break;
    default:
        code = 500;
        break;
    }
    kt__http_send_error(req, code, "%s",
                        message != NULL && message[0] != '\0'
                            ? message
                            : kt_strerror((kt_err)status));
}

void
kt__http_send_timeout(struct evhttp_request *req)
{
    kt__http_send_error(req, 503, "the backend did not answer in time");
}
