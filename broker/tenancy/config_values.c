/* SPDX-License-Identifier: MIT */
/* config_values: value parsers, lists, names, user and group ids, and the system hooks. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenancy/config_internal.h"
#include "proto/limits.h"

/* ---------------------------------------------------------------- numbers */

int config_parse_uint(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* Parses digits followed by nothing (default_mult) or one of the unit suffixes; -EINVAL on
 * anything else, -ERANGE when the product does not fit. */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units,
			uint64_t default_mult, uint64_t *ret)
{
	char num[32];
	size_t i = 0;
	uint64_t v, mult = default_mult;
	int r;

	if (!s)
		return -EINVAL;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, i);
	num[i] = '\0';
	r = config_parse_uint(num, &v);
	if (r < 0)
		return r;
	if (s[i]) {
		size_t k;
		for (k = 0; k < n_units; k++)
			if (strcmp(s + i, units[k].suffix) == 0)
				break;
		if (k == n_units)
			return -EINVAL;
		mult = units[k].mult;
	}
	if (mult && v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ret_usec)
{
	static const struct unit units[] = {
		{"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000ull},
	};
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1000000, ret_usec);
}

int config_parse_size(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {
		{"K", 1024}, {"M", 1024 * 1024}, {"KiB", 1024}, {"MiB", 1024 * 1024},
	};
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1, ret);
}

int config_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_mode(const char *s, mode_t *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '7')
			return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		return -EINVAL;
	*ret = (mode_t)v;
	return 0;
}

/* ---------------------------------------------------------------- lists and names */

void config_strv_done(struct config_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int config_strv_push(struct config_strv *s, const char *str, size_t n)
{
	_cleanup_free_ char *dup = NULL;
	char **v;

	if (s->n >= CONFIG_MAX_LIST)
		return -E2BIG;
	dup = strndup(str, n);
	if (!dup)
		return -ENOMEM;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[s->n++] = TAKE_PTR(dup);
	s->v = v;
	return 0;
}

static bool is_list_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t';
}

int config_split_list(const char *value, struct config_strv *out)
{
	const char *s = value;
	int r;

	while (*s) {
		const char *e;
		while (*s && is_list_sep(*s))
			s++;
		if (!*s)
			break;
		e = s;
		while (*e && !is_list_sep(*e))
			e++;
		r = config_strv_push(out, s, (size_t)(e - s));
		if (r < 0)
			return r;
		s = e;
	}
	return 0;
}

bool config_is_name_token(const char *s)
{
	if (!*s || strlen(s) > SB_MAX_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.' || *s == '@' || *s == ':'))
			return false;
	return true;
}

/* ---------------------------------------------------------------- the system */

/* NSS lookups: may block on a remote directory; they happen only at start and reload. */
static int sys_lookup_user(const char *name, uid_t *ret)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ESRCH;
	*ret = res->pw_uid;
	return 0;
}

static int sys_lookup_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	char buf[16384];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ESRCH;
	*ret = res->gr_gid;
	return 0;
}

static int sys_stat(const char *path, struct stat *ret)
{
	return stat(path, ret) < 0 ? -errno : 0;
}

static int sys_lstat(const char *path, struct stat *ret)
{
	return lstat(path, ret) < 0 ? -errno : 0;
}

static int sys_access(const char *path, int mode)
{
	return access(path, mode) < 0 ? -errno : 0;
}

static int sys_realpath(const char *path, char ret[static PATH_MAX])
{
	return realpath(path, ret) ? 0 : -errno;
}

static const struct config_sys real_sys = {
	.lookup_user = sys_lookup_user,
	.lookup_group = sys_lookup_group,
	.stat = sys_stat,
	.access = sys_access,
	.realpath = sys_realpath,
	.lstat = sys_lstat,
};
static const struct config_sys *cur_sys = &real_sys;

void config_set_sys(const struct config_sys *sys)
{
	cur_sys = sys ? sys : &real_sys;
}

const struct config_sys *config_get_sys(void)
{
	return cur_sys;
}

/* A decimal id below UINT32_MAX (-ERANGE above), or -EINVAL when s is not a number. */
static int parse_id(const char *s, uint32_t *ret)
{
	uint64_t v;

	if (config_parse_uint(s, &v) < 0)
		return -EINVAL;
	if (v >= (uint64_t)UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int config_resolve_uid(const char *s, uid_t *ret)
{
	int r = parse_id(s, ret);

	if (r != -EINVAL)
		return r;
	return cur_sys->lookup_user(s, ret) < 0 ? -ESRCH : 0;
}

int config_resolve_gid(const char *s, gid_t *ret)
{
	int r = parse_id(s, ret);

	if (r != -EINVAL)
		return r;
	return cur_sys->lookup_group(s, ret) < 0 ? -ESRCH : 0;
}
