/*
 * libFuzzer harness for the broker's parsers of hostile text about identity and tokens: the
 * first byte picks the target, the rest is its input.
 *   0: a subject token through identity_validate (against a fixed key set)
 *   1: a JWKS document through jwks_parse
 *   2: an upstream error body through exchange_error_message
 *   3: an issued token through exchange_peek_jwt
 *   4: a credentials.json through credentials_parse
 *   5: any JSON through jsonbound_parse
 * Needs skybroker_core (broker/ on the include path). Every call must return cleanly; results
 * are checked for the invariants that hold for any input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokens/credentials.h"
#include "tokens/exchange.h"
#include "tokens/identity.h"
#include "util/log.h"
#include "util/jsonbound.h"
#include "tokens/jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed RSA key (public half only) so that validation reaches the key lookup. */
static const char fuzz_jwks_text[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"SKfuzz\",\"alg\":\"RS256\",\"use\":\"sig\","
	"\"n\":\"oJg5OnDI16ctowlmo21ZixcCvOMPs0ek-E0ZqJOmDaVoQyxsw6EM3ohVvTeDvklLJy-amDt9Vjwuj88H"
	"e39jHT2M5l1GY1cEpuU-t4rlOj6Rrm_oAfVj6YkUmuTWdh3EZEhv4TLODz6lPDemtw8DoEje92aQI0Ur"
	"xD01Wn4tF-Vl8RPWWoeyNrmAvkBB3RhczF13PlX-dfsvc1HD4caLDu4aVfY-Pd2GJcgff3OMOiib2bNL"
	"AwafeQ-g0HTk-HUWdTxx7-f5Nfiff7xuYNvnQR4DO1h537QtVaHkgnDdCYSp8nfVt6YnX9ujDp-yMwp0"
	"x--iRflnq2M2M64fEWrNsQ"
	"\",\"e\":\"AQAB\"}]}";

static struct jwks *fuzz_keys;
static struct identity *fuzz_id;

static void fuzz_init(void)
{
	static const char *const aud[] = { "https://mcp.example.com/mcp" };
	static const char *const claims[] = { "roles", "sub" };
	struct identity_config cfg = { .project_id = "P2fuzz", .audiences = aud, .n_audiences = 1,
				       .context_claims = claims, .n_context_claims = 2,
				       .cache_size = 64 };

	if (fuzz_id)
		return;
	log_set_max_level(LOG_SILENT); /* silence */
	if (jwks_parse(fuzz_jwks_text, strlen(fuzz_jwks_text), &fuzz_keys, NULL) < 0)
		abort();
	if (identity_new(&cfg, &fuzz_id) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	char msg[256];
	int r;

	if (size == 0)
		return 0;
	fuzz_init();
	switch (data[0] % 6) {
	case 0: {
		struct identity_claims *c = NULL;
		struct error_detail err;

		r = identity_validate(fuzz_id, fuzz_keys, text, n, 1800000000, &c, &err, NULL);
		if (r == 0) {
			/* Nobody can sign for SKfuzz without its private key. */
			abort();
		}
		if (c || err.r != r || !err.message[0])
			abort();
		break;
	}
	case 1: {
		struct jwks *s = NULL;
		struct error_detail why = {0};

		r = jwks_parse(text, n, &s, &why);
		if ((r == 0) != (s != NULL))
			abort();
		if (s) {
			for (size_t i = 0; i < s->n_keys; i++)
				if (jwks_find(s, s->keys[i].kid) != &s->keys[i])
					abort();
			jwks_unref(s);
		}
		break;
	}
	case 2:
		exchange_error_message(text, n, msg, sizeof(msg));
		if (strlen(msg) >= sizeof(msg))
			abort();
		for (const char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				abort();
		break;
	case 3: {
		int64_t exp = 0;
		json_t *ctx = NULL;

		(void)exchange_peek_jwt(text, n, &exp, &ctx);
		json_decref(ctx);
		break;
	}
	case 4: {
		struct credentials *c = NULL;
		struct error_detail why = {0};

		r = credentials_parse(text, n, &c, &why);
		if ((r == 0) != (c != NULL))
			abort();
		credentials_free(c);
		break;
	}
	default: {
		static const struct jsonbound_limits lim = { .max_size = 65536, .max_depth = 8 };
		json_t *j = NULL;

		r = jsonbound_parse(text, n, &lim, &j, NULL);
		if ((r == 0) != (j != NULL))
			abort();
		json_decref(j);
		break;
	}
	}
	return 0;
}
