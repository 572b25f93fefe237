/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * Process hygiene at start-up, before any secret is loaded: no core dumps and no ptrace by
 * other users (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), supplementary groups dropped when running
 * as root, no running as root unless explicitly allowed, RLIMIT_NOFILE raised to its hard
 * limit (every connection is a descriptor, plus a pidfd where the kernel offers it).
 * Returns 0 or -errno; logs.
 */
int hygiene_apply(bool allow_root);
