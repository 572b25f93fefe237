/* SPDX-License-Identifier: MIT */
/* hygiene: process hardening at start (no core dumps, no ptrace, groups, fd limit). */
#include <errno.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/hygiene.h"
#include "util/log.h"

int hygiene_apply(bool allow_root)
{
	struct rlimit rl = {0, 0};

	if (geteuid() == 0) {
		if (!allow_root) {
			log_error("refusing to run as root: run as the skybroker user (see "
				  "skybroker.service), or pass --allow-root");
			return -EPERM;
		}
		log_warning("running as root (--allow-root): the broker does not need it; run it "
			    "as its own user");
		if (setgroups(0, NULL) < 0)
			return log_errno(LOG_ERR, -errno, "setgroups(0)");
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_errno(LOG_ERR, -errno, "prctl(PR_SET_DUMPABLE, 0)");
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return log_errno(LOG_ERR, -errno, "setrlimit(RLIMIT_CORE, 0)");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning("cannot raise RLIMIT_NOFILE to %llu: %m",
				    (unsigned long long)want);
	}
	return 0;
}
