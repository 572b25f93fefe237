#include "keys.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *bio_to_string(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *s;

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static int bn_param_b64(EVP_PKEY *pkey, const char *name, char **ret)
{
	BIGNUM *bn = NULL;
	unsigned char *bin;
	int n, r;

	if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
		return -EIO;
	n = BN_num_bytes(bn);
	bin = malloc((size_t)n + 1);
	if (!bin) {
		BN_free(bn);
		return -ENOMEM;
	}
	BN_bn2bin(bn, bin);
	r = b64url_encode(bin, (size_t)n, ret);
	free(bin);
	BN_free(bn);
	return r;
}

/* Fills the PEM and JWK forms of k->pkey. */
static int key_fill(struct emu_key *k)
{
	BIO *bio;
	int r;

	if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
		return -EINVAL;
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		return -ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return -EIO;
	}
	k->priv_pem = bio_to_string(bio);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return -ENOMEM;
	if (!PEM_write_bio_PUBKEY(bio, k->pkey)) {
		BIO_free(bio);
		return -EIO;
	}
	k->pub_pem = bio_to_string(bio);
	BIO_free(bio);
	if (!k->priv_pem || !k->pub_pem)
		return -ENOMEM;
	r = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, &k->n_b64);
	if (r < 0)
		return r;
	return bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, &k->e_b64);
}

static struct emu_key *key_alloc(const char *kid)
{
	struct emu_key *k = calloc(1, sizeof(*k));
	if (k)
		snprintf(k->kid, sizeof(k->kid), "%s", kid ? kid : "");
	return k;
}

int key_generate(const char *kid, struct emu_key **ret)
{
	struct emu_key *k;
	int r;

	*ret = NULL;
	k = key_alloc(kid);
	if (!k)
		return -ENOMEM;
	k->pkey = EVP_RSA_gen(2048);
	if (!k->pkey) {
		log_err("RSA key generation failed");
		key_free(k);
		return -EIO;
	}
	r = key_fill(k);
	if (r < 0) {
		key_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

int key_from_pem(const char *pem, const char *kid, struct emu_key **ret)
{
	struct emu_key *k;
	BIO *bio;
	int r;

	*ret = NULL;
	k = key_alloc(kid);
	if (!k)
		return -ENOMEM;
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio) {
		key_free(k);
		return -ENOMEM;
	}
	k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!k->pkey) {
		key_free(k);
		return -EBADMSG;
	}
	r = key_fill(k);
	if (r < 0) {
		key_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

void key_free(struct emu_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	emu_free_secret(k->priv_pem);
	free(k->pub_pem);
	free(k->n_b64);
	free(k->e_b64);
	free(k);
}

json_t *key_jwk(const struct emu_key *k)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "alg", "RS256", "e", k->e_b64, "kid",
			 k->kid, "kty", "RSA", "n", k->n_b64, "use", "sig");
}

int jwt_sign_rs256(const struct emu_key *k, int with_kid, json_t *claims, char **ret)
{
	jwt_t *jwt = NULL;
	char *json = NULL, *out;
	int r;

	*ret = NULL;
	if (jwt_new(&jwt) != 0)
		return -ENOMEM;
	json = json_dumps(claims, JSON_COMPACT);
	if (!json) {
		r = -ENOMEM;
		goto out;
	}
	r = -jwt_add_grants_json(jwt, json);
	if (r < 0)
		goto out;
	if (with_kid && k->kid[0]) {
		r = -jwt_add_header(jwt, "kid", k->kid);
		if (r < 0)
			goto out;
	}
	r = -jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)k->priv_pem,
			 (int)strlen(k->priv_pem));
	if (r < 0)
		goto out;
	out = jwt_encode_str(jwt);
	if (!out) {
		r = -EIO;
		goto out;
	}
	*ret = out;
	r = 0;
out:
	free(json);
	jwt_free(jwt);
	return r;
}

static int segment_json(const char *s, size_t len, json_t **ret)
{
	uint8_t *raw;
	size_t raw_len;
	json_t *j;
	int r;

	*ret = NULL;
	r = b64url_decode(s, len, EMU_MAX_TOKEN_LEN, &raw, &raw_len);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	if (memchr(raw, '\0', raw_len)) {
		free(raw);
		return -EBADMSG;
	}
	j = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

int jwt_peek(const char *token, json_t **header, json_t **payload)
{
	const char *d1, *d2;
	size_t len;
	json_t *h = NULL, *p = NULL;
	int r;

	if (header)
		*header = NULL;
	if (payload)
		*payload = NULL;
	if (!token)
		return -EBADMSG;
	len = strnlen(token, EMU_MAX_TOKEN_LEN + 1);
	if (len > EMU_MAX_TOKEN_LEN)
		return -EMSGSIZE;
	d1 = memchr(token, '.', len);
	if (!d1)
		return -EBADMSG;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return -EBADMSG;
	if (d1 == token || d2 == d1 + 1 || d2 + 1 == token + len)
		return -EBADMSG;
	r = segment_json(token, (size_t)(d1 - token), &h);
	if (r < 0)
		return r;
	r = segment_json(d1 + 1, (size_t)(d2 - d1 - 1), &p);
	if (r < 0) {
		json_decref(h);
		return r;
	}
	if (header)
		*header = h;
	else
		json_decref(h);
	if (payload)
		*payload = p;
	else
		json_decref(p);
	return 0;
}

int jwt_verify_rs256(const char *token, const struct emu_key *k, json_t **claims)
{
	json_t *header = NULL, *payload = NULL, *typ;
	const char *alg;
	jwt_t *jwt = NULL;
	int r;

	*claims = NULL;
	r = jwt_peek(token, &header, &payload);
	if (r < 0)
		return r;
	alg = json_string_value(json_object_get(header, "alg"));
	typ = json_object_get(header, "typ");
	if (!alg || strcmp(alg, "RS256") != 0 ||
	    (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))) {
		r = -EKEYREJECTED;
		goto out;
	}
	if (jwt_decode(&jwt, token, (const unsigned char *)k->pub_pem, (int)strlen(k->pub_pem)) !=
		    0 ||
	    jwt_get_alg(jwt) != JWT_ALG_RS256) {
		r = -EKEYREJECTED;
		goto out;
	}
	*claims = payload;
	payload = NULL;
	r = 0;
out:
	jwt_free(jwt);
	json_decref(header);
	json_decref(payload);
	return r;
}
