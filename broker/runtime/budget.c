/* SPDX-License-Identifier: MIT */
/* budget: bytes held by requests in flight against a maximum, and the queue waiting for room. */
#include <stddef.h>

#include "runtime/budget.h"

void budget_init(struct budget *b, uint64_t max, struct budget *parent)
{
	*b = (struct budget){.parent = parent};
	budget_set_max(b, max);
}

void budget_set_max(struct budget *b, uint64_t max)
{
	b->max = max ? max : UINT64_MAX;
}

void budget_take(struct budget *b, uint64_t n)
{
	for (; b; b = b->parent)
		b->held += n;
}

void budget_give(struct budget *b, uint64_t n)
{
	for (; b; b = b->parent)
		b->held = n < b->held ? b->held - n : 0;
}

bool budget_may_take(const struct budget *b, const struct budget_waiter *w)
{
	if (!budget_has_room(b))
		return false;
	if (b->turn)
		return b->turn == w;
	return b->head == NULL; /* with others waiting, a newcomer queues behind them */
}

void budget_wait(struct budget *b, struct budget_waiter *w)
{
	if (b->turn == w)
		b->turn = NULL; /* it used its turn and needs more: to the back of the queue */
	if (w->queued)
		return;
	w->queued = true;
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
}

void budget_unwait(struct budget *b, struct budget_waiter *w)
{
	if (b->turn == w)
		b->turn = NULL;
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	*w = (struct budget_waiter){0};
}

struct budget_waiter *budget_next_waiter(struct budget *b)
{
	struct budget_waiter *w = b->head;

	if (b->turn || !w || !budget_has_room(b))
		return NULL;
	budget_unwait(b, w);
	b->turn = w;
	return w;
}

void budget_end_turn(struct budget *b, const struct budget_waiter *w)
{
	if (b->turn == w)
		b->turn = NULL;
}
