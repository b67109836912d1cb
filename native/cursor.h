/*
 * Reading a plan: a cursor over its bytes, and the readers of each field
 * type (see src/init/ops.ts for the wire format). A short or malformed field
 * marks the cursor bad and yields a harmless value; the caller checks
 * c->bad once per step.
 */
#ifndef TSRUN_CURSOR_H
#define TSRUN_CURSOR_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const uint8_t *p, *end;
	int bad;
};

/* Copies n bytes of the next field. */
static inline void get_raw(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n) {
		c->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p, n);
	c->p += n;
}

static inline uint64_t get_u64(struct cursor *c)
{
	uint64_t v;
	get_raw(c, &v, sizeof(v));
	return v;
}

static inline uint32_t get_u32(struct cursor *c)
{
	uint32_t v;
	get_raw(c, &v, sizeof(v));
	return v;
}

/* u32 length (including the trailing NUL), then the bytes. */
static inline const char *get_str(struct cursor *c, uint32_t *lenp)
{
	uint32_t n = get_u32(c);
	const char *s = (const char *)c->p;
	if (c->bad || (size_t)(c->end - c->p) < n || n == 0 || s[n - 1] != '\0') {
		c->bad = 1;
		*lenp = 0;
		return "";
	}
	c->p += n;
	*lenp = n - 1;
	return s;
}

/* u32 count, then strings; returned NULL-terminated. The list is allocated
 * and never freed: the init execs or exits soon, and its strings point into
 * the plan, which lives as long. */
static inline char **get_strv(struct cursor *c)
{
	static char *empty[1];
	uint32_t n = get_u32(c);
	if (c->bad || n > 1u << 20) {
		c->bad = 1;
		return empty;
	}
	char **v = calloc(n + 1, sizeof(char *));
	if (!v) {
		c->bad = 1;
		return empty;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		v[i] = (char *)get_str(c, &len);
	}
	return v;
}

/* u32 length, then the bytes (not aligned: copy before handing them to the kernel). */
static inline const uint8_t *get_bytes(struct cursor *c, uint32_t *lenp)
{
	uint32_t n = get_u32(c);
	const uint8_t *b = c->p;
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		*lenp = 0;
		return c->end;
	}
	c->p += n;
	*lenp = n;
	return b;
}

/* u32 count, then u64s (allocated, like get_strv's list). */
static inline uint64_t *get_u64v(struct cursor *c, uint32_t *countp)
{
	static uint64_t none[1];
	uint32_t n = get_u32(c);
	*countp = 0;
	if (c->bad || n > 65536) {
		c->bad = 1;
		return none;
	}
	uint64_t *v = calloc(n + 1, sizeof(uint64_t));
	if (!v) {
		c->bad = 1;
		return none;
	}
	for (uint32_t i = 0; i < n; i++)
		v[i] = get_u64(c);
	*countp = n;
	return v;
}

/* The next step of a plan: u32 op, u32 length, then that many bytes, which
 * *step covers. 0, or -EINVAL for a truncated plan. */
static inline int next_step(struct cursor *top, uint32_t *op, struct cursor *step)
{
	*op = get_u32(top);
	uint32_t len = get_u32(top);
	if (top->bad || (size_t)(top->end - top->p) < len)
		return -EINVAL;
	step->p = top->p;
	step->end = top->p + len;
	step->bad = 0;
	top->p += len;
	return 0;
}

#endif
