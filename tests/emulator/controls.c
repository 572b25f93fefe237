#include "controls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *counts;      /* endpoint -> integer */
static json_int_t total;
static struct fault faults[EMU_MAX_FAULTS];
static size_t nfaults;
static int next_fault_id = 1;

void controls_init(void)
{
	pthread_mutex_lock(&lock);
	if (!counts)
		counts = json_object();
	pthread_mutex_unlock(&lock);
}

void controls_shutdown(void)
{
	faults_clear();
	pthread_mutex_lock(&lock);
	json_decref(counts);
	counts = NULL;
	pthread_mutex_unlock(&lock);
}

void stats_count(const char *endpoint)
{
	pthread_mutex_lock(&lock);
	json_t *v = json_object_get(counts, endpoint);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(counts, endpoint, json_integer(1));
	total++;
	pthread_mutex_unlock(&lock);
}

json_t *stats_json(void)
{
	json_t *out;
	pthread_mutex_lock(&lock);
	out = json_pack("{s:O, s:I}", "endpoints", counts, "total", total);
	/* deep copy so the caller can serialise without the lock */
	json_t *copy = json_deep_copy(out);
	json_decref(out);
	pthread_mutex_unlock(&lock);
	return copy;
}

void stats_reset(void)
{
	pthread_mutex_lock(&lock);
	json_object_clear(counts);
	total = 0;
	pthread_mutex_unlock(&lock);
}

int faults_add(json_t *spec, char *err, size_t err_len)
{
	struct fault f = {0};
	json_t *v;
	int id;

	if (!json_is_object(spec)) {
		snprintf(err, err_len, "fault must be a JSON object");
		return -EINVAL;
	}
	v = json_object_get(spec, "path_prefix");
	if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(f.path_prefix))) {
		snprintf(err, err_len, "path_prefix must be a string");
		return -EINVAL;
	}
	snprintf(f.path_prefix, sizeof(f.path_prefix), "%s", v ? json_string_value(v) : "/");
	v = json_object_get(spec, "status");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 100 ||
		  json_integer_value(v) > 599)) {
		snprintf(err, err_len, "status must be an HTTP status code");
		return -EINVAL;
	}
	f.status = v ? (unsigned)json_integer_value(v) : 0;
	v = json_object_get(spec, "delay_ms");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
		  json_integer_value(v) > 600000)) {
		snprintf(err, err_len, "delay_ms must be 0..600000");
		return -EINVAL;
	}
	f.delay_ms = v ? (long)json_integer_value(v) : 0;
	v = json_object_get(spec, "drop");
	if (v && !json_is_boolean(v)) {
		snprintf(err, err_len, "drop must be a boolean");
		return -EINVAL;
	}
	f.drop = json_is_true(v);
	v = json_object_get(spec, "count");
	if (v && (!json_is_integer(v) || json_integer_value(v) < -1 ||
		  json_integer_value(v) > 1000000000)) {
		snprintf(err, err_len, "count must be an integer (-1 or 0: unlimited)");
		return -EINVAL;
	}
	f.count = v ? (long)json_integer_value(v) : 1;
	if (f.count == 0)
		f.count = -1;
	v = json_object_get(spec, "body");
	if (v) {
		if (json_is_string(v))
			f.body = strdup(json_string_value(v));
		else
			f.body = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!f.body) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
	}
	if (!f.status && !f.drop && !f.delay_ms && !f.body) {
		snprintf(err, err_len, "a fault needs status, body, delay_ms or drop");
		free(f.body);
		return -EINVAL;
	}
	if (f.body && !f.status)
		f.status = 200;
	pthread_mutex_lock(&lock);
	if (nfaults >= EMU_MAX_FAULTS) {
		pthread_mutex_unlock(&lock);
		free(f.body);
		snprintf(err, err_len, "too many faults (max %d)", EMU_MAX_FAULTS);
		return -ENOSPC;
	}
	id = f.id = next_fault_id++;
	faults[nfaults++] = f;
	pthread_mutex_unlock(&lock);
	return id;
}

void faults_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nfaults; i++)
		free(faults[i].body);
	nfaults = 0;
	pthread_mutex_unlock(&lock);
}

json_t *faults_json(void)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nfaults; i++) {
		json_t *f = json_pack("{s:i, s:s, s:i, s:I, s:b, s:I}", "id", faults[i].id,
				      "path_prefix", faults[i].path_prefix, "status",
				      (int)faults[i].status, "delay_ms", (json_int_t)faults[i].delay_ms,
				      "drop", faults[i].drop, "count", (json_int_t)faults[i].count);
		if (faults[i].body)
			json_object_set_new(f, "body", json_string(faults[i].body));
		json_array_append_new(arr, f);
	}
	pthread_mutex_unlock(&lock);
	return json_pack("{s:o}", "faults", arr);
}

bool faults_match(const char *path, struct fault *out)
{
	bool hit = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nfaults; i++) {
		struct fault *f = &faults[i];
		if (strncmp(path, f->path_prefix, strlen(f->path_prefix)) != 0)
			continue;
		*out = *f;
		out->body = f->body ? strdup(f->body) : NULL;
		if (f->count > 0 && --f->count == 0) {
			free(f->body);
			memmove(f, f + 1, (nfaults - i - 1) * sizeof(*f));
			nfaults--;
		}
		hit = true;
		break;
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

void fault_release(struct fault *f)
{
	free(f->body);
	f->body = NULL;
}
