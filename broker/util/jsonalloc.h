/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * jansson's allocator with wiping (trust model 1: secrets wiped when freed). jansson keeps
 * copies of what it parses and prints (lexer buffers, string values, json_dumps output) and
 * frees them without clearing; the credentials' PEM, subject tokens, assertions and Skyflow
 * tokens pass through it. jsonalloc_init() installs a malloc/free pair whose free clears the
 * whole block first.
 *
 * The block size comes from malloc_usable_size() rather than a size header in front of each
 * block: the blocks are then plain malloc blocks, so text that jansson returns (json_dumps) and
 * callers release with free() (our own code, libjwt's jwt_freemem) stays valid, and a block
 * allocated before jsonalloc_init() may still be freed through the hook.
 */

/* Installs the wiping allocator for jansson, process-wide. Call once at start-up, before
 * threads exist (jansson's setting is a plain global); calling it again is harmless. */
void jsonalloc_init(void);

/* The pair installed by jsonalloc_init (malloc, and a free that wipes the block first). */
void *jsonalloc_malloc(size_t size);
void jsonalloc_free(void *p);

/* Clears the whole block p (a live malloc block; NULL is fine) without freeing it. */
void jsonalloc_wipe(void *p);
