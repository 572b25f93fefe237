/* SPDX-License-Identifier: MIT */
/* encode: requests and replies to msgpack frames, driven by the field tables of schema.c. */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "limits.h"
#include "message.h"
#include "packer.h"
#include "schema.h"

/* msgpack-c's write callback: appends to p->out; -1 (and p->err set) once the buffer is full. */
static int pk_write(void *data, const char *buf, size_t len)
{
	struct sb_packer *p = data;
	int r;

	if (p->err)
		return -1;
	r = sb_buf_append(p->out, buf, len);
	if (r < 0) {
		p->err = r;
		return -1;
	}
	return 0;
}

void sb_packer_init(struct sb_packer *p, struct sb_buf *out)
{
	*p = (struct sb_packer){.out = out};
	msgpack_packer_init(&p->pk, p, pk_write);
}

void sb_packer_str(struct sb_packer *p, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(&p->pk, n);
	msgpack_pack_str_body(&p->pk, s, n);
}

void sb_packer_raw(struct sb_packer *p, const void *bytes, size_t n)
{
	(void)pk_write(p, bytes, n);
}

/* Whether field f holds a value in base (absent optional fields are not written). */
static bool field_present(const struct field *f, const char *base)
{
	const void *src = base + f->off;
	bool required = f->flags & F_REQUIRED;

	switch (f->type) {
	case FT_STR:
	case FT_ENUM:
		return *(const char *const *)src != NULL;
	case FT_U64:
		return required || ((const struct sb_opt_u64 *)src)->set;
	case FT_BOOL:
		return required || ((const struct sb_opt_bool *)src)->set;
	case FT_STRV:
		return required || ((const struct sb_strv *)src)->set;
	case FT_U64V:
		return required || ((const struct sb_u64v *)src)->set;
	default:
		return *(const msgpack_object *const *)src != NULL;
	}
}

/* Counts in *n the fields of t present in base; -EINVAL when a required one is absent. */
static int count_present(const struct table *t, const char *base, uint32_t *n)
{
	*n = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (field_present(&t->f[i], base))
			(*n)++;
		else if (t->f[i].flags & F_REQUIRED)
			return -EINVAL; /* the caller forgot a required field */
	}
	return 0;
}

/* Packs field f of base as a key and its value. */
static void encode_field(struct sb_packer *p, const struct field *f, const char *base)
{
	const void *src = base + f->off;
	bool required = f->flags & F_REQUIRED;

	sb_packer_str(p, f->name);
	switch (f->type) {
	case FT_STR:
	case FT_ENUM:
		sb_packer_str(p, *(const char *const *)src);
		break;
	case FT_U64:
		msgpack_pack_uint64(&p->pk, required ? *(const uint64_t *)src
						     : ((const struct sb_opt_u64 *)src)->v);
		break;
	case FT_BOOL:
		if (required ? *(const bool *)src : ((const struct sb_opt_bool *)src)->v)
			msgpack_pack_true(&p->pk);
		else
			msgpack_pack_false(&p->pk);
		break;
	case FT_STRV: {
		const struct sb_strv *sv = src;
		msgpack_pack_array(&p->pk, sv->n);
		for (uint32_t i = 0; i < sv->n; i++)
			sb_packer_str(p, sv->v[i]);
		break;
	}
	case FT_U64V: {
		const struct sb_u64v *uv = src;
		msgpack_pack_array(&p->pk, uv->n);
		for (uint32_t i = 0; i < uv->n; i++)
			msgpack_pack_uint64(&p->pk, uv->v[i]);
		break;
	}
	default:
		msgpack_pack_object(&p->pk, **(const msgpack_object *const *)src);
		break;
	}
}

static void encode_table_body(struct sb_packer *p, const struct table *t, const char *base)
{
	for (size_t i = 0; i < t->n; i++)
		if (field_present(&t->f[i], base))
			encode_field(p, &t->f[i], base);
}

/* Runs the frame protocol around an encoder body; all or nothing. */
static int finish_frame(struct sb_packer *p, size_t mark, size_t max_payload)
{
	if (p->err) {
		sb_frame_abort(p->out, mark);
		return p->err;
	}
	return sb_frame_end(p->out, mark, max_payload);
}

/* Starts a frame in out (see sb_frame_begin) and a packer writing after its prefix. */
static int packer_begin(struct sb_packer *p, struct sb_buf *out, size_t *mark)
{
	sb_packer_init(p, out);
	return sb_frame_begin(out, mark);
}

int sb_request_encode(const struct sb_request *req, struct sb_buf *out, size_t max_payload)
{
	const struct table *t;
	struct sb_packer p;
	size_t mark;
	uint32_t n;
	int r;

	if ((unsigned)req->op >= _SB_OP_MAX || req->id == 0)
		return -EINVAL;
	t = &sb_request_tables[req->op];
	r = count_present(t, (const char *)&req->u, &n);
	if (r < 0)
		return r;
	r = packer_begin(&p, out, &mark);
	if (r < 0)
		return r;
	msgpack_pack_map(&p.pk, n + 2);
	sb_packer_str(&p, "id");
	msgpack_pack_uint64(&p.pk, req->id);
	sb_packer_str(&p, "op");
	sb_packer_str(&p, sb_operations[req->op].name);
	encode_table_body(&p, t, (const char *)&req->u);
	return finish_frame(&p, mark, max_payload);
}

int sb_result_encode(const struct sb_reply *rep, struct sb_buf *out)
{
	struct sb_packer p;
	uint32_t n;
	int r;

	if (!rep->ok || (unsigned)rep->op >= _SB_OP_MAX)
		return -EINVAL;
	r = count_present(&sb_result_tables[rep->op], (const char *)&rep->u, &n);
	if (r < 0)
		return r;
	sb_packer_init(&p, out);
	msgpack_pack_map(&p.pk, n);
	encode_table_body(&p, &sb_result_tables[rep->op], (const char *)&rep->u);
	return p.err;
}

int sb_reply_encode(const struct sb_reply *rep, struct sb_buf *out, size_t max_payload)
{
	struct sb_packer p;
	size_t mark;
	uint32_t n = 0;
	int r;

	if (rep->ok) {
		if ((unsigned)rep->op >= _SB_OP_MAX)
			return -EINVAL;
		r = count_present(&sb_result_tables[rep->op], (const char *)&rep->u, &n);
		if (r < 0)
			return r;
	} else if (!rep->error.message) {
		return -EINVAL;
	}

	r = packer_begin(&p, out, &mark);
	if (r < 0)
		return r;
	msgpack_pack_map(&p.pk, 3);
	sb_packer_str(&p, "id");
	msgpack_pack_uint64(&p.pk, rep->id);
	sb_packer_str(&p, "ok");
	if (rep->ok) {
		msgpack_pack_true(&p.pk);
		sb_packer_str(&p, "result");
		msgpack_pack_map(&p.pk, n);
		encode_table_body(&p, &sb_result_tables[rep->op], (const char *)&rep->u);
	} else {
		const struct sb_error *er = &rep->error;

		msgpack_pack_false(&p.pk);
		sb_packer_str(&p, "error");
		msgpack_pack_map(&p.pk, 3 + er->upstream_status.set + !!er->request_id);
		sb_packer_str(&p, "code");
		sb_packer_str(&p, sb_errcode_name(er->code));
		encode_table_body(&p, &sb_error_table, (const char *)er);
	}
	return finish_frame(&p, mark, max_payload);
}

int sb_reply_encode_error(uint64_t id, enum sb_errcode code, const char *message,
			  struct sb_buf *out, size_t max_payload)
{
	char msg[SB_MAX_MESSAGE_LEN + 1];
	size_t n = strnlen(message, SB_MAX_MESSAGE_LEN);
	struct sb_reply rep = {
		.id = id,
		.ok = false,
		.error = {.code = code, .message = msg, .retryable = sb_errcode_retryable(code)},
	};

	memcpy(msg, message, n);
	msg[n] = '\0';
	return sb_reply_encode(&rep, out, max_payload);
}

/* Whether b starts with a msgpack map header (fixmap, map 16, map 32). */
static bool starts_with_map(const uint8_t *b, size_t n)
{
	return n > 0 && ((b[0] & 0xf0) == 0x80 || b[0] == 0xde || b[0] == 0xdf);
}

int sb_reply_encode_ok_raw(uint64_t id, const uint8_t *result, size_t n, struct sb_buf *out,
			   size_t max_payload)
{
	struct sb_packer p;
	size_t mark;
	int r;

	if (!result || !starts_with_map(result, n))
		return -EINVAL;
	r = packer_begin(&p, out, &mark);
	if (r < 0)
		return r;
	msgpack_pack_map(&p.pk, 3);
	sb_packer_str(&p, "id");
	msgpack_pack_uint64(&p.pk, id);
	sb_packer_str(&p, "ok");
	msgpack_pack_true(&p.pk);
	sb_packer_str(&p, "result");
	sb_packer_raw(&p, result, n);
	return finish_frame(&p, mark, max_payload);
}
