/* util: small helpers shared by the emulator modules — clock, randomness, base64url,
 * bounded string buffers, files, logging. No HTTP and no JSON policy here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Limits, in one place. */
#define EMU_MAX_BODY        (1024 * 1024) /* request body cap */
#define EMU_MAX_TOKEN_LEN   16384         /* any JWT we parse */
#define EMU_MAX_POLICY_LEN  4096
#define EMU_MAX_CEL_LEN     4096
#define EMU_MAX_CEL_DEPTH   32
#define EMU_MAX_QUERY_LEN   4096
#define EMU_MAX_ROWS_PAGE   25
#define EMU_MAX_FAULTS      64
#define EMU_MAX_KEYS        16            /* Descope signing keys kept */
#define EMU_MAX_FIELD_LEN   65536         /* one record value */

/* Clock: real time plus an offset set by POST /emulator/clock. Thread-safe. */
time_t emu_now(void);
long emu_clock_offset(void);
void emu_clock_set_offset(long offset_s);

/* Logging to stderr with a <N> syslog priority prefix. Never pass a token or key. */
extern int emu_verbose;
void emu_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)   emu_log(3, __VA_ARGS__)
#define log_warn(...)  emu_log(4, __VA_ARGS__)
#define log_info(...)  emu_log(6, __VA_ARGS__)
#define log_debug(...) do { if (emu_verbose) emu_log(7, __VA_ARGS__); } while (0)

/* Randomness from getrandom(2). Returns 0 or -errno. */
int emu_random(void *buf, size_t n);
/* Writes a lowercase RFC 4122 v4 UUID (36 chars + NUL) into out[37]. */
int emu_uuid(char out[static 37]);
/* Writes n random lowercase hex digits + NUL into out (size n + 1). */
int emu_random_hex(char *out, size_t n);
/* Writes n random characters of [A-Za-z0-9] + NUL into out (size n + 1). */
int emu_random_alnum(char *out, size_t n);

/* base64url without padding. *ret is malloc'd, caller frees. Returns 0 or -errno. */
int b64url_encode(const void *data, size_t len, char **ret);
/* Decodes at most max_out bytes; rejects padding, bad characters and overlong input
 * (-EBADMSG, -EMSGSIZE). *ret is malloc'd and NUL-terminated for convenience. */
int b64url_decode(const char *s, size_t len, size_t max_out, uint8_t **ret, size_t *ret_len);

/* Growable string with a hard maximum; every append checks it. */
struct sbuf {
	char *p;
	size_t len, cap, max;
};
void sbuf_init(struct sbuf *b, size_t max);
int sbuf_append(struct sbuf *b, const void *data, size_t len); /* 0 or -ENOMEM/-EMSGSIZE */
int sbuf_puts(struct sbuf *b, const char *s);
void sbuf_free(struct sbuf *b);
char *sbuf_steal(struct sbuf *b); /* NUL-terminated, caller frees; b is reset */

/* Reads a whole file of at most max bytes, NUL-terminated. Returns 0, -errno, -EMSGSIZE. */
int emu_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes data to path via a temporary file and rename(2), with the given mode. */
int emu_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* "2026-01-23T08:14:56.000Z" into out[32]. */
void emu_iso8601(time_t t, char out[static 32]);

/* Strict decimal parse of a whole string into [min, max]. 0 or -EINVAL/-ERANGE. */
int emu_parse_long(const char *s, long min, long max, long *ret);

/* strdup that returns NULL only on NULL input or out of memory. */
char *emu_strdup(const char *s);

/* Wipes and frees a NUL-terminated secret (NULL is fine). */
void emu_free_secret(char *s);
