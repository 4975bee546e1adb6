// SPDX-License-Identifier: GPL-2.0
/*
 * dump_out.c - reflinkfs dump's output: one set of calls that print
 * either JSON (through json.c) or text with the same keys, so that both
 * always carry the same fields.
 *
 * Text layout, YAML-like and stable:
 *
 *   key: value                    a field of an object
 *   key:                          an object or a list, indented below
 *     - a: 1                      an object in a list
 *       b: 2
 *     - x=1 y=2 z="two words"     a row: an object on one line
 *   key: (none)                   an empty list
 *
 * Strings are quoted (C escapes) when they are empty, have quotes,
 * backslashes, control or non-ASCII bytes, leading or trailing blanks, or,
 * in a row, blanks or separators.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump.h"

/* ---- text ------------------------------------------------------------ */

static void text_spaces(int n)
{
	while (n-- > 0)
		fputs("  ", stdout);
}

static void text_line_start(struct dump *d);

static void text_flush_header(struct dump *d, int lv)
{
	const char *key = d->pending[lv];
	int save = d->nest;

	if (!key)
		return;
	d->pending[lv] = NULL;
	/* the header is a line of the parent */
	d->nest = lv - 1;
	text_line_start(d);
	printf("%s:\n", key);
	d->nest = save;
}

/* Start a line for a child of the current OBJ or LIST level. */
static void text_line_start(struct dump *d)
{
	int lv = d->nest;

	if (d->pending[lv])
		text_flush_header(d, lv);
	if (d->level[lv] == DUMP_LV_LIST) {
		text_spaces(lv);
		fputs("- ", stdout);
	} else if (d->dash[lv]) {
		text_spaces(lv - 1);
		fputs("- ", stdout);
		d->dash[lv] = false;
	} else {
		text_spaces(lv);
	}
	d->items[lv] = true;
}

static bool needs_quote(const unsigned char *s, size_t len, bool row)
{
	size_t i;

	if (!len || s[0] == ' ' || s[len - 1] == ' ')
		return true;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return true;
		if (row && strchr(" =,{}[]", s[i]))
			return true;
	}
	return false;
}

static void text_put(const void *str, size_t len, bool row)
{
	const unsigned char *s = str;
	size_t i;

	if (!needs_quote(s, len, row)) {
		fwrite(s, 1, len, stdout);
		return;
	}
	putchar('"');
	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (s[i] < 0x20 || s[i] >= 0x7f)
				printf("\\x%02x", s[i]);
			else
				putchar(s[i]);
		}
	}
	putchar('"');
}

/* A scalar: "key: value", "- value", " key=value" or ",value". */
static void text_value(struct dump *d, const char *key, const void *val,
		       size_t len)
{
	int lv = d->nest;

	switch (d->level[lv]) {
	case DUMP_LV_OBJ:
	case DUMP_LV_LIST:
		text_line_start(d);
		if (key && d->level[lv] == DUMP_LV_OBJ)
			printf("%s: ", key);
		text_put(val, len, false);
		putchar('\n');
		break;
	case DUMP_LV_ROW:
		if (d->items[lv])
			putchar(' ');
		if (key)
			printf("%s=", key);
		text_put(val, len, true);
		d->items[lv] = true;
		break;
	case DUMP_LV_ROW_LIST:
		if (d->items[lv])
			putchar(',');
		text_put(val, len, true);
		d->items[lv] = true;
		break;
	}
}

static void text_cstr(struct dump *d, const char *key, const char *val)
{
	text_value(d, key, val, strlen(val));
}

static void push(struct dump *d, enum dump_level lv, bool dash)
{
	if (d->nest < DUMP_MAX_NEST - 1)
		d->nest++;
	d->level[d->nest] = lv;
	d->items[d->nest] = false;
	d->dash[d->nest] = dash;
	d->pending[d->nest] = NULL;
}

/* ---- structure ------------------------------------------------------- */

void dump_out_init(struct dump *d)
{
	d->nest = 0;
	d->level[0] = DUMP_LV_OBJ;
	d->items[0] = false;
	d->dash[0] = false;
	d->pending[0] = NULL;
	if (d->json)
		json_document_begin(&d->j, stdout);
}

void dump_out_finish(struct dump *d)
{
	if (d->json)
		json_document_end(&d->j);
}

void dump_obj_begin(struct dump *d, const char *key)
{
	if (d->quiet)
		return;
	if (d->json) {
		json_object_begin(&d->j, key);
		return;
	}
	switch (d->level[d->nest]) {
	case DUMP_LV_OBJ:
		text_line_start(d);
		printf("%s:\n", key ? key : "-");
		push(d, DUMP_LV_OBJ, false);
		break;
	case DUMP_LV_LIST:
		if (d->pending[d->nest])
			text_flush_header(d, d->nest);
		d->items[d->nest] = true;
		push(d, DUMP_LV_OBJ, true);
		break;
	case DUMP_LV_ROW:
	case DUMP_LV_ROW_LIST:
		dump_row_begin(d, key);
		break;
	}
}

void dump_row_begin(struct dump *d, const char *key)
{
	int lv = d->nest;

	if (d->quiet)
		return;
	if (d->json) {
		json_object_begin(&d->j, key);
		return;
	}
	switch (d->level[lv]) {
	case DUMP_LV_OBJ:
	case DUMP_LV_LIST:
		text_line_start(d);
		if (key && d->level[lv] == DUMP_LV_OBJ)
			printf("%s: ", key);
		push(d, DUMP_LV_ROW, false);
		break;
	case DUMP_LV_ROW:
	case DUMP_LV_ROW_LIST:
		/* Inside a row: braced, after a space (a field) or a comma. */
		if (d->items[lv])
			putchar(d->level[lv] == DUMP_LV_ROW ? ' ' : ',');
		if (key && d->level[lv] == DUMP_LV_ROW)
			printf("%s=", key);
		putchar('{');
		d->items[lv] = true;
		push(d, DUMP_LV_ROW, true);	/* dash: braced */
		break;
	}
}

void dump_obj_end(struct dump *d)
{
	int lv = d->nest;

	if (d->quiet)
		return;
	if (d->json) {
		json_object_end(&d->j);
		return;
	}
	if (d->level[lv] == DUMP_LV_ROW) {
		if (d->dash[lv])
			putchar('}');
		else if (!d->items[lv])
			fputs("-\n", stdout);
		else
			putchar('\n');
	} else if (d->dash[lv]) {
		/* an empty object in a list */
		text_spaces(lv - 1);
		fputs("- (empty)\n", stdout);
	}
	if (d->nest > 0)
		d->nest--;
}

void dump_list_begin(struct dump *d, const char *key)
{
	int lv = d->nest;

	if (d->quiet)
		return;
	if (d->json) {
		json_array_begin(&d->j, key);
		return;
	}
	switch (d->level[lv]) {
	case DUMP_LV_OBJ:
	case DUMP_LV_LIST:
		/* an item of the parent: make sure its line is owed */
		if (d->level[lv] == DUMP_LV_LIST)
			key = "-";
		push(d, DUMP_LV_LIST, false);
		d->pending[d->nest] = key;
		break;
	case DUMP_LV_ROW:
	case DUMP_LV_ROW_LIST:
		if (d->items[lv])
			putchar(d->level[lv] == DUMP_LV_ROW ? ' ' : ',');
		if (key && d->level[lv] == DUMP_LV_ROW)
			printf("%s=", key);
		putchar('[');
		d->items[lv] = true;
		push(d, DUMP_LV_ROW_LIST, false);
		break;
	}
}

void dump_list_end(struct dump *d)
{
	int lv = d->nest;
	const char *key = d->pending[lv];

	if (d->quiet)
		return;
	if (d->json) {
		json_array_end(&d->j);
		return;
	}
	if (d->level[lv] == DUMP_LV_ROW_LIST) {
		putchar(']');
	} else if (key) {
		/* nothing was printed: "key: (none)" on the parent's line */
		d->pending[lv] = NULL;
		d->nest--;
		text_line_start(d);
		printf("%s: (none)\n", key);
		d->nest++;
	}
	if (d->nest > 0)
		d->nest--;
}

/* ---- scalars --------------------------------------------------------- */

/*
 * An unsigned number: in JSON a number, in text as @fmt (PRIu64, 0x%
 * PRIx64 or 0% PRIo64) prints it.
 */
static void dump_unsigned(struct dump *d, const char *key, uint64_t val,
			  const char *fmt)
{
	char buf[24];

	if (d->quiet)
		return;
	if (d->json) {
		json_u64(&d->j, key, val);
		return;
	}
	snprintf(buf, sizeof(buf), fmt, val);
	text_cstr(d, key, buf);
}

void dump_u64(struct dump *d, const char *key, uint64_t val)
{
	dump_unsigned(d, key, val, "%" PRIu64);
}

void dump_hex(struct dump *d, const char *key, uint64_t val)
{
	dump_unsigned(d, key, val, "0x%" PRIx64);
}

void dump_oct(struct dump *d, const char *key, uint64_t val)
{
	dump_unsigned(d, key, val, val ? "0%" PRIo64 : "0");
}

void dump_s64(struct dump *d, const char *key, int64_t val)
{
	char buf[24];

	if (d->quiet)
		return;
	if (d->json) {
		json_s64(&d->j, key, val);
		return;
	}
	snprintf(buf, sizeof(buf), "%" PRId64, val);
	text_cstr(d, key, buf);
}

void dump_str(struct dump *d, const char *key, const char *s)
{
	if (d->quiet)
		return;
	if (d->json)
		json_string(&d->j, key, s);
	else
		text_cstr(d, key, s);
}

void dump_mem(struct dump *d, const char *key, const void *s, size_t len)
{
	const char *nul = memchr(s, 0, len);
	char *copy;
	size_t i;

	if (d->quiet)
		return;
	if (nul)
		len = nul - (const char *)s;
	if (!d->json) {
		text_value(d, key, s, len);
		return;
	}
	copy = tool_xrealloc(NULL, len + 1, 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	for (i = 0; i < len; i++)
		if (!copy[i])
			copy[i] = (char)0xff;	/* becomes U+FFFD */
	json_string(&d->j, key, copy);
	free(copy);
}

void dump_hexbytes(struct dump *d, const char *key, const void *s,
		   size_t len)
{
	const unsigned char *p = s;
	size_t i;
	char *hex;

	if (d->quiet)
		return;
	hex = tool_xrealloc(NULL, 2 * len + 1, 1);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", p[i]);
	hex[2 * len] = '\0';
	if (!len && !d->json)
		text_cstr(d, key, "-");
	else
		dump_str(d, key, hex);
	free(hex);
}

void dump_bool(struct dump *d, const char *key, bool val)
{
	if (d->quiet)
		return;
	if (d->json)
		json_bool(&d->j, key, val);
	else
		text_cstr(d, key, val ? "true" : "false");
}

void dump_flags(struct dump *d, const char *key, uint64_t val,
		const struct dump_flag *names, size_t n)
{
	char buf[256], unknown[24];
	uint64_t rest = val;
	size_t i, off;
	char *nkey;

	if (d->quiet)
		return;
	if (d->json) {
		json_u64(&d->j, key, val);
		nkey = tool_xasprintf("%s_names", key);
		json_array_begin(&d->j, nkey);
		for (i = 0; i < n; i++) {
			if (val & names[i].bit)
				json_string(&d->j, NULL, names[i].name);
			rest &= ~names[i].bit;
		}
		if (rest) {
			snprintf(unknown, sizeof(unknown), "0x%" PRIx64, rest);
			json_string(&d->j, NULL, unknown);
		}
		json_array_end(&d->j);
		free(nkey);
		return;
	}
	off = snprintf(buf, sizeof(buf), "0x%" PRIx64, val);
	for (i = 0; i < n && off < sizeof(buf); i++) {
		if (!(val & names[i].bit))
			continue;
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s",
				rest == val ? " (" : ",", names[i].name);
		rest &= ~names[i].bit;
	}
	if (rest && rest != val && off < sizeof(buf))
		off += snprintf(buf + off, sizeof(buf) - off, ",0x%" PRIx64,
				rest);
	if (rest != val && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, ")");
	text_cstr(d, key, buf);
}

void dump_time(struct dump *d, const char *key, int64_t sec)
{
	char buf[80], date[40];
	time_t t = sec;
	struct tm tm;

	if (d->quiet)
		return;
	if (d->json) {
		json_s64(&d->j, key, sec);
		return;
	}
	if ((int64_t)t == sec && gmtime_r(&t, &tm) &&
	    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, sizeof(buf), "%" PRId64 " (%s)", sec, date);
	else
		snprintf(buf, sizeof(buf), "%" PRId64, sec);
	text_cstr(d, key, buf);
}

/* ---- verdicts and failures ----------------------------------------- */

static void add_failure(struct dump *d, const struct dump_where *w,
			const char *why)
{
	struct dump_fail *f;

	d->fails = tool_xrealloc(d->fails, d->nfails + 1, sizeof(*d->fails));
	f = &d->fails[d->nfails++];
	f->where = *w;
	snprintf(f->reason, sizeof(f->reason), "%s", why);
}

bool dump_verdict(struct dump *d, const char *key,
		  const struct dump_where *w, const char *why)
{
	char buf[DUMP_REASON_LEN + 64];
	size_t off;

	if (why)
		add_failure(d, w, why);
	if (d->quiet)
		return why;
	if (d->json) {
		json_object_begin(&d->j, key);
		json_bool(&d->j, "ok", !why);
		if (why) {
			json_string(&d->j, "reason", why);
			if (w->entry >= 0)
				json_u64(&d->j, "entry", w->entry);
			if (w->offset >= 0)
				json_u64(&d->j, "offset", w->offset);
		}
		json_object_end(&d->j);
		return why;
	}
	if (!why) {
		text_cstr(d, key, "ok");
		return false;
	}
	off = snprintf(buf, sizeof(buf), "FAILED: %s", why);
	if (w->entry >= 0 && off < sizeof(buf))
		off += snprintf(buf + off, sizeof(buf) - off, " (entry %d)",
				w->entry);
	if (w->offset >= 0 && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, " (offset %ld)",
			 w->offset);
	text_cstr(d, key, buf);
	return true;
}

bool dump_verdictf(struct dump *d, const char *key,
		   const struct dump_where *w, const char *fmt, ...)
{
	char why[DUMP_REASON_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return dump_verdict(d, key, w, why);
}

void dump_failures(struct dump *d)
{
	const struct dump_fail *f;
	size_t i;

	dump_u64(d, "failed", d->nfails);
	dump_list_begin(d, "failures");
	for (i = 0; i < d->nfails; i++) {
		f = &d->fails[i];
		dump_row_begin(d, NULL);
		dump_str(d, "what", f->where.what);
		dump_u64(d, "block", f->where.block);
		if (f->where.ino)
			dump_u64(d, "inode", f->where.ino);
		if (f->where.entry >= 0)
			dump_u64(d, "entry", f->where.entry);
		if (f->where.offset >= 0)
			dump_u64(d, "offset", f->where.offset);
		dump_str(d, "reason", f->reason);
		dump_obj_end(d);
	}
	dump_list_end(d);
}
