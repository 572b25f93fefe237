/* SPDX-License-Identifier: MIT */
/* jsonalloc: jansson allocations that are wiped when freed. */
#include "util/jsonalloc.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void *jsonalloc_malloc(size_t size)
{
	return malloc(size);
}

void jsonalloc_wipe(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
}

void jsonalloc_free(void *p)
{
	jsonalloc_wipe(p);
	free(p);
}

void jsonalloc_init(void)
{
	json_set_alloc_funcs(jsonalloc_malloc, jsonalloc_free);
}
