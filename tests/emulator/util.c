#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int emu_verbose;
static atomic_long clock_offset;

time_t emu_now(void)
{
	return time(NULL) + (time_t)atomic_load(&clock_offset);
}

long emu_clock_offset(void)
{
	return atomic_load(&clock_offset);
}

void emu_clock_set_offset(long offset_s)
{
	atomic_store(&clock_offset, offset_s);
}

void emu_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>skyflow-emulator: %s\n", prio, line);
}

int emu_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int emu_uuid(char out[static 37])
{
	uint8_t b[16];
	int r = emu_random(b, sizeof(b));
	if (r < 0)
		return r;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

int emu_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[64];

	for (size_t i = 0; i < n; i += sizeof(b)) {
		size_t chunk = n - i < sizeof(b) ? n - i : sizeof(b);
		int r = emu_random(b, chunk);
		if (r < 0)
			return r;
		for (size_t j = 0; j < chunk; j++)
			out[i + j] = hex[b[j] & 0x0f];
	}
	out[n] = '\0';
	return 0;
}

int emu_random_alnum(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;

	while (i < n) {
		uint8_t b[32];
		int r = emu_random(b, sizeof(b));
		if (r < 0)
			return r;
		for (size_t j = 0; j < sizeof(b) && i < n; j++)
			if (b[j] < 248) /* 248 = 4 * 62: unbiased */
				out[i++] = set[b[j] % 62];
	}
	out[n] = '\0';
	return 0;
}

static const char b64url_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(const void *data, size_t len, char **ret)
{
	const uint8_t *in = data;
	size_t olen = (len / 3) * 4 + 4;
	char *out, *o;

	*ret = NULL;
	if (len > SIZE_MAX / 2)
		return -EMSGSIZE;
	out = malloc(olen + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = b64url_chars[(v >> 18) & 63];
		*o++ = b64url_chars[(v >> 12) & 63];
		*o++ = b64url_chars[(v >> 6) & 63];
		*o++ = b64url_chars[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*o++ = b64url_chars[(v >> 18) & 63];
		*o++ = b64url_chars[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = b64url_chars[(v >> 18) & 63];
		*o++ = b64url_chars[(v >> 12) & 63];
		*o++ = b64url_chars[(v >> 6) & 63];
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_decode(const char *s, size_t len, size_t max_out, uint8_t **ret, size_t *ret_len)
{
	uint8_t *out;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	*ret = NULL;
	*ret_len = 0;
	if (len % 4 == 1)
		return -EBADMSG;
	if (len / 4 * 3 + 3 > max_out + 3)
		return -EMSGSIZE;
	out = malloc(len / 4 * 3 + 4);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_val(s[i]);
		if (v < 0) {
			free(out);
			return -EBADMSG;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (o > max_out) {
		free(out);
		return -EMSGSIZE;
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

void sbuf_init(struct sbuf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int sbuf_append(struct sbuf *b, const void *data, size_t len)
{
	if (len > b->max || b->len > b->max - len)
		return -EMSGSIZE;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int sbuf_puts(struct sbuf *b, const char *s)
{
	return sbuf_append(b, s, strlen(s));
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *sbuf_steal(struct sbuf *b)
{
	char *p = b->p;
	if (!p)
		p = calloc(1, 1);
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

int emu_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct sbuf b;
	char chunk[4096];
	int fd, r = 0;

	*ret = NULL;
	if (ret_len)
		*ret_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sbuf_init(&b, max);
	for (;;) {
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		r = sbuf_append(&b, chunk, (size_t)k);
		if (r < 0)
			break;
	}
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	if (r < 0) {
		if (b.p)
			explicit_bzero(b.p, b.len);
		sbuf_free(&b);
		return r;
	}
	if (ret_len)
		*ret_len = b.len;
	*ret = sbuf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

int emu_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = data;
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, (mode_t)mode) < 0)
		r = -errno;
	while (r == 0 && len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		p += k;
		len -= (size_t)k;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void emu_iso8601(time_t t, char out[static 32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int emu_parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	if (!s || !*s || strlen(s) > 20)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

char *emu_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void emu_free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
