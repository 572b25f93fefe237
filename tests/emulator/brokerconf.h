/* brokerconf: ready-to-use skybrokerd configurations pointing at this emulator. */
#pragma once

#include "emu.h"

/*
 * Writes DIR/skybroker.conf (exchange = sts) and DIR/skybroker-ctx.conf (exchange = ctx), mode
 * 0644, for one tenant `demo` served on DIR/skybroker.sock (DIR/skybroker-ctx.sock), admitting
 * the uid we run as, pointing at emu (its base URL, project id, service account, vault id,
 * DIR/credentials.json) with ca_file (may be NULL: plain HTTP gets insecure_http = yes; HTTPS
 * without a known CA gets a comment saying to pass --tls-ca). state_dir and ca_file are made
 * absolute. Returns 0 or -errno (logged).
 */
int brokerconf_write(const char *state_dir, const struct emu *emu, const char *ca_file);

/* The CA for an HTTPS emulator: tls_ca when given, else ca.pem next to tls_cert when it exists
 * (what tests/tls/mkca.sh makes), else NULL. Borrowed or in buf (size bytes). */
const char *brokerconf_guess_ca(const char *tls_ca, const char *tls_cert, char *buf, size_t size);
