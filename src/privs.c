/* privs.c - giving up root (see privs.h). */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool privs_user_ok(const char *user)
{
    return geteuid() != 0 || getpwnam(user ? user : "nobody") != NULL;
}

/* Drops every capability it can from the bounding set. Without
 * CAP_SETPCAP (a service manager that bounded the set already) what is
 * left stays, and no_new_privs keeps it from being gained. 0, or -1 with
 * errno. */
static int clear_bounding_set(void)
{
    for (int cap = 0; cap <= 63; cap++) {
        int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (in < 0)
            break; /* past the kernel's last capability */
        if (in && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EPERM)
            return -1;
    }
    return 0;
}

int privs_drop(const char *user, const char *doing, bool quiet)
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
    /* The bounding set first (it takes CAP_SETPCAP, which root still has):
     * nothing this process or a child executes can gain a capability back. */
    if (clear_bounding_set() != 0 || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "lyncaudit: cannot become %s: %s\n", name, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* must not be able to come back */
        fprintf(stderr, "lyncaudit: dropping root did not hold\n");
        return -1;
    }
    /* No set-user-id program or file capability can raise us again. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "lyncaudit: cannot set no_new_privs: %s\n", strerror(errno));
        return -1;
    }
    if (!quiet)
        fprintf(stderr, "lyncaudit: %s as user %s (uid %u)\n", doing, name, (unsigned)pw->pw_uid);
    return 0;
}
