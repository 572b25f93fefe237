/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the configuration unit tests share (header-only; include after cmocka.h): a minimal
 * valid tenant section body, and a loader of config text that keeps the error output in
 * errbuf for the test to search.
 */

#include <stdio.h>
#include <string.h>

#include "tenancy/config.h"

#define TENANT                                                                                    \
	"descope_project_id = P1\n"                                                               \
	"vault_url = https://v.vault.skyflowapis.com/\n"                                          \
	"vault_id = v1\n"                                                                         \
	"sts_url = https://sts.example.com\n"                                                     \
	"service_account_id = sa1\n"                                                              \
	"allow_uids = 1000\n"

static char errbuf[16384];

/* Loads text as the file "t.conf"; returns what config_load_string does, its error lines in
 * errbuf (cleared first). */
static inline int load(const char *text, struct broker_config **ret)
{
	FILE *f;
	int r;

	memset(errbuf, 0, sizeof(errbuf));
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_non_null(f);
	r = config_load_string("t.conf", text, f, ret);
	fclose(f);
	return r;
}
