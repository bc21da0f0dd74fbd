/* privs.c - giving up root (see privs.h). */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool privs_user_ok(const char *user)
{
    return geteuid() != 0 || getpwnam(user ? user : "nobody") != NULL;
}

int privs_drop(const char *user, bool quiet)
{
    if (geteuid() != 0) {
        if (user) {
            fprintf(stderr, "lyncaudit: -Z %s: not running as root, nothing to drop\n", user);
            return -1;
        }
        return 0;
    }
    const char *name = user ? user : "nobody";
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "lyncaudit: -Z %s: no such user\n", name);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "lyncaudit: cannot become %s: %s\n", name, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* must not be able to come back */
        fprintf(stderr, "lyncaudit: dropping root did not hold\n");
        return -1;
    }
    if (!quiet)
        fprintf(stderr, "lyncaudit: capturing as user %s (uid %u)\n", name, (unsigned)pw->pw_uid);
    return 0;
}
