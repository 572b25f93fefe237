/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * A budget of bytes held by requests in flight (runtime/conn.c keeps one per connection,
 * max_inflight_bytes_per_connection, whose parent is the one over every connection,
 * max_inflight_bytes), and the queue of those waiting for it to have room again, oldest first.
 *
 * A budget has room while what it holds is below its maximum, so whoever finds room may take
 * one more item whatever its size: one request always fits, and the maximum is overshot by at
 * most the last item taken.
 *
 * Fairness: once anyone waits, room goes by turns. budget_next_waiter gives the turn to the
 * oldest waiter; only the holder of the turn may take (budget_may_take) until it ends its turn
 * or waits again, which puts it at the back of the queue. A newcomer finding others waiting
 * queues behind them, so a busy client cannot keep the room from the others.
 */

/* Embedded in whoever waits (a connection). */
struct budget_waiter {
	struct budget_waiter *prev, *next;
	bool queued;
};

struct budget {
	uint64_t max; /* UINT64_MAX: unlimited */
	uint64_t held;
	struct budget *parent;             /* also charged; NULL for none */
	struct budget_waiter *head, *tail; /* the queue, oldest first */
	struct budget_waiter *turn;        /* the one who may take now, or NULL */
};

/* An empty budget of max bytes (0: unlimited) with nobody waiting; parent (borrowed for b's
 * life, may be NULL) is charged whatever b is. */
void budget_init(struct budget *b, uint64_t max, struct budget *parent);
/* A new maximum (0: unlimited); what is held and the queue stay. */
void budget_set_max(struct budget *b, uint64_t max);

/* Whether b has room (it alone, not its parent). */
static inline bool budget_has_room(const struct budget *b)
{
	return b->held < b->max;
}

/* n bytes more are held by b and its parent / are given back to them. */
void budget_take(struct budget *b, uint64_t n);
void budget_give(struct budget *b, uint64_t n);

/* Whether w may take from b now: b has room, and either nobody waits or it is w's turn. */
bool budget_may_take(const struct budget *b, const struct budget_waiter *w);

/* w waits for room (at the end of the queue; nothing if it already waits; a turn it held ends). w is borrowed
 * until budget_unwait or budget_next_waiter hands it back. */
void budget_wait(struct budget *b, struct budget_waiter *w);
/* w no longer waits (nothing if it did not), and its turn, if it had one, ends. */
void budget_unwait(struct budget *b, struct budget_waiter *w);
/* When b has room and no turn is out, takes the first waiter out of the queue, gives it the
 * turn and returns it; else NULL. */
struct budget_waiter *budget_next_waiter(struct budget *b);

/* w is done taking for now (nothing if the turn is not w's). */
void budget_end_turn(struct budget *b, const struct budget_waiter *w);
