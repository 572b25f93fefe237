/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Intrusive doubly-linked lists, the one shape every list of the broker uses (connections,
 * in-flight requests, waiters, curl sockets): an item has `prev` and `next` pointers of its own
 * type, a list is a pointer to its first item. Prepending and removing are O(1); removing an
 * item that is not linked (both pointers NULL and not the head) does nothing.
 */

/* Links item at the front of the list whose first item is head (an lvalue). */
#define LIST_PREPEND(head, item)                                                                 \
	do {                                                                                     \
		__typeof__(item) _li = (item);                                                   \
		_li->prev = NULL;                                                                \
		_li->next = (head);                                                              \
		if (_li->next)                                                                   \
			_li->next->prev = _li;                                                   \
		(head) = _li;                                                                    \
	} while (0)

/* Unlinks item from the list whose first item is head, and clears its pointers. */
#define LIST_REMOVE(head, item)                                                                  \
	do {                                                                                     \
		__typeof__(item) _li = (item);                                                   \
		if (_li->prev)                                                                   \
			_li->prev->next = _li->next;                                             \
		else if ((head) == _li)                                                          \
			(head) = _li->next;                                                      \
		if (_li->next)                                                                   \
			_li->next->prev = _li->prev;                                             \
		_li->prev = _li->next = NULL;                                                    \
	} while (0)
