// test_http_viewlogic.c: the operations view's rules on their own (no
// socket): tickets, stripes' epochs, mutations in flight, change events,
// the TTL of states that are not completed, and eviction. The end-to-end
// behaviour over a real socket is in test_http_view.c.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "http/http_int.h"

static http_srv *srv;
static http_view *view;

static void
setup(void)
{
    srv = calloc(1, sizeof(*srv));
    cr_assert_not_null(srv);
    srv->view_on = true;
    srv->view_ttl_ms = 100;
    cr_assert_eq(kt__http_view_new(&view), KT_OK);
}

static void
teardown(void)
{
    kt__http_view_free(view);
    free(srv);
}

TestSuite(http_viewlogic, .init = setup, .fini = teardown, .timeout = 10.0);

// ticket: a miss, which must hand out a ticket.
static uint64_t
ticket(const char *id)
{
    const char *txt;
    size_t len;
    uint64_t t = 99;

    cr_assert_not(kt__http_view_get(srv, view, id, &txt, &len, &t),
                  "%s is in the view", id);
    return t;
}

// hit: whether id is served, and with which body.
static bool
hit(const char *id, const char *want)
{
    const char *txt = NULL;
    size_t len = 0;
    uint64_t t;

    if (!kt__http_view_get(srv, view, id, &txt, &len, &t)) {
        return false;
    }
    cr_assert_eq(len, strlen(want));
    cr_assert_eq(memcmp(txt, want, len), 0);
    return true;
}

Test(http_viewlogic, a_filled_entry_is_served_until_its_stripe_moves)
{
    uint64_t t = ticket("op_a");

    cr_assert_neq(t, 0);
    kt__http_view_put(srv, view, "op_a", t, true, "{\"a\":1}", 7);
    cr_expect(hit("op_a", "{\"a\":1}"));
    cr_expect(hit("op_a", "{\"a\":1}"));
    kt__http_view_changed(srv, "op_a");
    cr_expect_not(hit("op_a", "{\"a\":1}"), "served after a change event");
    cr_expect_not(hit("op_b", "x"), "an id never filled");
}

Test(http_viewlogic, a_reply_asked_before_a_change_is_not_stored)
{
    uint64_t t = ticket("op_a");

    kt__http_view_changed(srv, "op_a"); // the event overtakes the reply
    kt__http_view_put(srv, view, "op_a", t, true, "old", 3);
    cr_expect_not(hit("op_a", "old"));
    t = ticket("op_a");
    kt__http_view_mut_begin(srv, HTTP_MUT_ID, "op_a");
    kt__http_view_put(srv, view, "op_a", t, true, "old", 3);
    cr_expect_not(hit("op_a", "old"), "stored across a mutation's begin");
    kt__http_view_mut_end(srv, HTTP_MUT_ID, "op_a");
    kt__http_view_put(srv, view, "op_a", 0, true, "zero", 4);
    cr_expect_not(hit("op_a", "zero"), "ticket 0 stored");
}

Test(http_viewlogic, no_ticket_while_a_mutation_is_in_flight)
{
    uint64_t t;

    kt__http_view_mut_begin(srv, HTTP_MUT_ID, "op_a");
    cr_expect_eq(ticket("op_a"), 0, "ticket during a mutation");
    kt__http_view_mut_end(srv, HTTP_MUT_ID, "op_a");
    t = ticket("op_a");
    cr_assert_neq(t, 0, "no ticket after the mutation ended");
    kt__http_view_put(srv, view, "op_a", t, true, "new", 3);
    cr_expect(hit("op_a", "new"));
}

Test(http_viewlogic, a_mutation_hides_what_was_stored_before_it)
{
    uint64_t t = ticket("op_a");

    kt__http_view_put(srv, view, "op_a", t, true, "before", 6);
    cr_assert(hit("op_a", "before"));
    kt__http_view_mut_begin(srv, HTTP_MUT_ID, "op_a");
    cr_expect_not(hit("op_a", "before"), "served during the mutation");
    kt__http_view_mut_end(srv, HTTP_MUT_ID, "op_a");
    cr_expect_not(hit("op_a", "before"), "served after the mutation");
}

Test(http_viewlogic, a_global_mutation_moves_every_stripe)
{
    char id[32];
    uint64_t t[HTTP_STRIPES * 2];

    for (int i = 0; i < HTTP_STRIPES * 2; i++) {
        snprintf(id, sizeof(id), "op_%d", i);
        t[i] = ticket(id);
        kt__http_view_put(srv, view, id, t[i], true, "x", 1);
        cr_assert(hit(id, "x"));
    }
    kt__http_view_mut_begin(srv, HTTP_MUT_ALL, "");
    snprintf(id, sizeof(id), "op_%d", 7);
    cr_expect_eq(ticket(id), 0);
    kt__http_view_mut_end(srv, HTTP_MUT_ALL, "");
    for (int i = 0; i < HTTP_STRIPES * 2; i++) {
        snprintf(id, sizeof(id), "op_%d", i);
        cr_expect_not(hit(id, "x"), "%s survived a cleanup", id);
    }
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};

    nanosleep(&ts, NULL);
}

Test(http_viewlogic, a_state_that_can_change_expires_and_completed_does_not)
{
    struct timespec t0, t1;
    uint64_t t;

    srv->view_ttl_ms = 30;
    t = ticket("op_run");
    kt__http_view_put(srv, view, "op_run", t, false, "running", 7);
    t = ticket("op_done");
    kt__http_view_put(srv, view, "op_done", t, true, "done", 4);
    cr_expect(hit("op_run", "running"));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    // Wait on the condition (the entry going), with a deadline.
    while (hit("op_run", "running")) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cr_assert_lt(t1.tv_sec - t0.tv_sec, 3, "running entry never expired");
        sleep_ms(5);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_expect_geq((t1.tv_sec - t0.tv_sec) * 1000 +
                      (t1.tv_nsec - t0.tv_nsec) / 1000000,
                  20, "expired before its TTL");
    cr_expect(hit("op_done", "done"), "a completed entry expired");
}

Test(http_viewlogic, ttl_zero_keeps_only_completed_operations)
{
    uint64_t t;

    srv->view_ttl_ms = 0;
    t = ticket("op_run");
    kt__http_view_put(srv, view, "op_run", t, false, "running", 7);
    cr_expect_not(hit("op_run", "running"));
    t = ticket("op_done");
    kt__http_view_put(srv, view, "op_done", t, true, "done", 4);
    cr_expect(hit("op_done", "done"));
}

Test(http_viewlogic, a_full_view_starts_over_and_stays_correct)
{
    char id[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "op_%d", i);
        kt__http_view_put(srv, view, id, ticket(id), true, id, strlen(id));
    }
    // The last ones are there, each with its own body.
    for (int i = 4990; i < 5000; i++) {
        snprintf(id, sizeof(id), "op_%d", i);
        cr_expect(hit(id, id), "%s missing", id);
    }
    // Another id of a moved stripe is refused, the others stay.
    kt__http_view_changed(srv, "op_4999");
    cr_expect_not(hit("op_4999", "op_4999"));
}
