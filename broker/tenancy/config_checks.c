/* SPDX-License-Identifier: MIT */
/* config_checks: what a URL or a file named in the configuration must be beyond its syntax. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tenancy/config_internal.h"
#include "util/sanitize.h"
#include "util/secretfile.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)

static void curl_freep(char **p)
{
	curl_free(*p);
}

/* ---------------------------------------------------------------- URLs */

/* Whether s has a blank, a control character or DEL, which no URL has (RFC 3986). */
static bool has_blank_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

const char *config_url_for_message(const char *url, char *buf, size_t size)
{
	const char *auth = strstr(url, "://");
	const char *at = strrchr(url, '@');
	char masked[CONFIG_MAX_STRING + 8];

	/* everything up to the last '@' may be userinfo, whatever a parser would make of it */
	auth = auth ? auth + 3 : url;
	if (at && at >= auth) {
		snprintf(masked, sizeof(masked), "%.*s***%s", (int)(auth - url), url, at);
		url = masked;
	}
	return sanitize_for_log(buf, size, url);
}

/* Whether part of u is present (and, for the host, not empty). */
static bool url_has(CURLU *u, CURLUPart part)
{
	_cleanup_(curl_freep) char *s = NULL;

	return curl_url_get(u, part, &s, 0) == CURLUE_OK && s && (part != CURLUPART_HOST || *s);
}

int config_check_url(struct config_parser *p, const struct config_key *k, const char *value)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	char shown[CONFIG_MAX_STRING + 8];
	CURLUcode rc;

	if (!u)
		return -ENOMEM;
	config_url_for_message(value, shown, sizeof(shown));
	/* no default scheme, no guessing: the scheme is written out, and only http(s) */
	if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
	    has_blank_or_control(value))
		return config_key_error(p, k, -EINVAL, "'%s' is not an http(s) URL", shown);
	rc = curl_url_set(u, CURLUPART_URL, value, 0);
	if (rc != CURLUE_OK)
		return config_key_error(p, k, -EINVAL, "'%s' is not a valid URL: %s", shown,
					curl_url_strerror(rc));
	/* libcurl reads "https:///x" as host "x"; an empty authority is not a host */
	if (!url_has(u, CURLUPART_HOST) || strstr(value, ":///"))
		return config_key_error(p, k, -EINVAL, "'%s' has no host", shown);
	if (url_has(u, CURLUPART_USER) || url_has(u, CURLUPART_PASSWORD) ||
	    url_has(u, CURLUPART_OPTIONS))
		return config_key_error(p, k, -EINVAL,
					"'%s' has a user name or password; a URL never carries "
					"credentials here",
					shown);
	return 0;
}

/* ---------------------------------------------------------------- files */

int config_check_readable_file(struct config_parser *p, const struct config_key *k,
			       const char *path, struct stat *ret)
{
	const struct config_sys *sys = config_get_sys();
	char shown[CONFIG_MAX_STRING + 8];
	int r;

	sanitize_for_log(shown, sizeof(shown), path);
	if (path[0] != '/')
		return config_key_error(p, k, -EINVAL, "'%s' is not an absolute path", shown);
	r = sys->stat(path, ret);
	if (r < 0)
		return config_key_error(p, k, r, "%s: %s", shown, strerror(-r));
	if (!S_ISREG(ret->st_mode))
		return config_key_error(p, k, -EINVAL, "%s is not a regular file", shown);
	r = sys->access(path, R_OK);
	if (r < 0)
		return config_key_error(p, k, r, "%s: %s", shown, strerror(-r));
	return 0;
}

/* ---------------------------------------------------------------- credentials files */

/* The path of a credentials file value: absolute, or a name under $CREDENTIALS_DIRECTORY. */
static int credentials_path(struct config_parser *p, const struct config_key *k, const char *value,
			    char *path, size_t size)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	if (value[0] == '/') {
		if (strlen(value) >= size)
			return config_key_error(p, k, -ENAMETOOLONG, "path too long");
		snprintf(path, size, "%s", value);
		return 0;
	}
	if (strchr(value, '/') || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
		return config_key_error(p, k, -EINVAL,
					"'%s' is neither an absolute path nor a credential name",
					value);
	if (!dir || !*dir)
		return config_key_error(p, k, -ENOENT,
					"'%s' is a credential name but $CREDENTIALS_DIRECTORY is not set",
					value);
	if ((size_t)snprintf(path, size, "%s/%s", dir, value) >= size)
		return config_key_error(p, k, -ENAMETOOLONG, "path too long");
	return 0;
}

int config_check_credentials(struct config_parser *p, const struct config_key *k,
			     const char *value, char *path, size_t size, bool *ret_in_dir)
{

	const struct config_sys *sys = config_get_sys();
	const struct secretfile_ops ops = {
		.stat = sys->stat, .realpath = sys->realpath, .lstat = sys->lstat};
	struct error_detail why = {0};
	struct stat st;
	int r;

	r = credentials_path(p, k, value, path, size);
	if (r < 0)
		return r;
	r = config_check_readable_file(p, k, path, &st);
	if (r < 0)
		return r;
	/* the user we run as: --check-config checks for the user that runs it */
	r = secretfile_check(path, &st, geteuid(), getenv("CREDENTIALS_DIRECTORY"), &ops, &why);
	if (r < 0) /* error_detail's message is sanitised already */
		return config_key_error(p, k, r == -EACCES ? -EPERM : r, "%s", why.message);
	*ret_in_dir = r > 0;
	return 0;
}
