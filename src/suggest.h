/* suggest.h - "did you mean": the closest of a few names to a misspelt one. */
#ifndef LYNCAUDIT_SUGGEST_H
#define LYNCAUDIT_SUGGEST_H

#include <stddef.h>

/* The candidate (of n; NULL entries skipped) closest to word when it is
 * close enough to be a misspelling of it: at most 1 edit (insertion,
 * deletion, substitution, or two neighbours swapped) for a word of up to 4
 * characters, 2 up to 8, 3 beyond; NULL otherwise, or for an exact match. */
const char *suggest_word(const char *word, const char *const *cands, size_t n);

/* Writes " (did you mean 'X'?)" into buf for suggest_word's answer, or ""
 * when there is none; returns buf. */
char *suggest_hint(char *buf, size_t len, const char *word, const char *const *cands, size_t n);

struct option;

/* Reports what getopt_long (called with opterr 0 and an optstring that
 * starts with ':') refused, c being its '?' or ':', as one line on stderr
 * after who ("lyncaudit"), then "Try '<try> --help'.": a missing value, a
 * value given to an option that takes none, an ambiguous abbreviation, an
 * unknown option (a long one with a "did you mean" from longs). */
void suggest_option_error(const char *who, const char *try, int c, char *const *argv, const struct option *longs);

#endif
