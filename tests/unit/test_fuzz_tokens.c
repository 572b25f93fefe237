/* SPDX-License-Identifier: MIT */
/*
 * Regression run of the tokens fuzz harness (tests/fuzz/fuzz_tokens.c) in every build: its seed
 * corpus, then deterministic mutations of each seed (bit flips, truncations, byte insertions,
 * target switches). Under the asan preset this is a small fuzzing session of the identity,
 * JWKS, exchange and credentials parsers; libFuzzer runs go further (fuzz preset).
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../fuzz/fuzz_tokens.c"

#define MUTATIONS_TOTAL 150000u /* spread over the seeds: well under a second; ~6 s under valgrind */
#define MAX_SEEDS 2048u

static unsigned mutations_per_seed = 100;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void mutate_and_run(const uint8_t *seed, size_t n)
{
	uint8_t *buf = malloc(n + 64);

	for (unsigned m = 0; m < mutations_per_seed; m++) {
		size_t len = n;
		unsigned edits = 1 + (unsigned)(next() % 4);

		memcpy(buf, seed, n);
		for (unsigned e = 0; e < edits && len > 0; e++) {
			size_t at = (size_t)(next() % len);

			switch (next() % 5) {
			case 0:
				buf[at] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1:
				len = at + 1; /* truncate */
				break;
			case 2:
				if (len < n + 60) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (uint8_t)next();
					len++;
				}
				break;
			case 3:
				buf[at] = "{}[]\".,:\\\x00\xff"[next() % 12];
				break;
			default:
				if (at > 0)
					buf[0] = (uint8_t)(next() % 6); /* same bytes, other target */
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	free(buf);
}

static void test_corpus_and_mutations(void **state)
{
	const char *src = getenv("SKYBROKER_SOURCE_DIR");
	char dir[1024];
	DIR *d;
	struct dirent *de;
	uint8_t *seeds[MAX_SEEDS];
	size_t lens[MAX_SEEDS];
	unsigned n = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/tokens", src ? src : ".");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) && n < MAX_SEEDS) {
		char path[2048];
		ssize_t got;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		seeds[n] = malloc(65536);
		got = read(fd, seeds[n], 65536);
		close(fd);
		assert_true(got > 0);
		lens[n++] = (size_t)got;
	}
	closedir(d);
	assert_true(n >= 10);
	mutations_per_seed = MUTATIONS_TOTAL / n;
	print_message("  %u seeds, %u mutations each\n", n, mutations_per_seed);
	for (unsigned i = 0; i < n; i++) {
		LLVMFuzzerTestOneInput(seeds[i], lens[i]);
		mutate_and_run(seeds[i], lens[i]);
		free(seeds[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_and_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
