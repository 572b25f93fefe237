/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * _cleanup_, _cleanup_free_, TAKE_PTR, DEFINE_TRIVIAL_CLEANUP_FUNC: the one cleanup idiom.
 * Defined once in proto/cleanup.h (proto/ is below broker/ and may not include it); broker/
 * code includes this header.
 */
#include "proto/cleanup.h"
