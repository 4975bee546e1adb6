/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer for reflinkfs --json output: objects,
 * arrays, strings, 64-bit integers, booleans and null, indented by two
 * spaces.  Inside an object every value has a key; inside an array the
 * key is NULL.  Strings are escaped (", \, control characters); bytes
 * that are not valid UTF-8 become U+FFFD, so the output always parses.
 */
#ifndef _RLFS_TOOL_JSON_H
#define _RLFS_TOOL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH	16
/* The "version" key of every document: bumped on incompatible changes. */
#define JSON_SCHEMA_VERSION	1

struct json {
	FILE		*f;
	int		depth;
	bool		has_items[JSON_MAX_DEPTH];	/* a comma is due */
};

void json_init(struct json *j, FILE *f);

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

void json_string(struct json *j, const char *key, const char *val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_s64(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);

/*
 * The top-level object every command prints: "{", "version": 1; end it
 * with json_document_end(), which adds the final newline.
 */
void json_document_begin(struct json *j, FILE *f);
void json_document_end(struct json *j);

#endif /* _RLFS_TOOL_JSON_H */
