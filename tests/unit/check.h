/* check.h - the unit tests' assertions: count, report, closing line. */
#ifndef LYNCAUDIT_CHECK_H
#define LYNCAUDIT_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            check_passed++;                                                           \
        } else {                                                                      \
            check_failed++;                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                      \
    do {                                                                                      \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);      \
        if (va_ == vb_) {                                                                     \
            check_passed++;                                                                   \
        } else {                                                                              \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: %s == %s: %llu != %llu\n", __FILE__, __LINE__, #a, #b,    \
                    va_, vb_);                                                                \
        }                                                                                     \
    } while (0)

/* Prints the closing line CTest logs show and returns the exit code. */
static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
