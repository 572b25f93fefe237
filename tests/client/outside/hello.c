/* SPDX-License-Identifier: MIT */
/* A program outside the tree: built with nothing but `pkg-config --cflags --libs skybroker`
 * against an installed prefix, it asks a running broker for its health. */
#include <stdio.h>

#include <skybroker.h>

int main(int argc, char **argv)
{
	struct skybroker_error err;
	skybroker_result *res;
	skybroker *h;
	char *json;

	if (skybroker_connect(argc > 1 ? argv[1] : NULL, "outside/1", 5000, &h, &err) != 0) {
		fprintf(stderr, "connect: %s: %s\n", err.code_name, err.message);
		return 1;
	}
	if (skybroker_ping(h, 0, &err) != 0 || skybroker_health(h, 0, &res, &err) != 0) {
		fprintf(stderr, "call: %s: %s\n", err.code_name, err.message);
		skybroker_free(h);
		return 1;
	}
	if (skybroker_result_json(res, 0, &json, NULL) == 0) {
		printf("tenant %s: %s\n", skybroker_tenant(h), json);
		skybroker_json_free(json);
	}
	skybroker_result_free(res);
	skybroker_free(h);
	return 0;
}
