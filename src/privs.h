/* privs.h - giving up root once what needs it is open (tcpdump -Z). */
#ifndef LYNCAUDIT_PRIVS_H
#define LYNCAUDIT_PRIVS_H

#include <stdbool.h>

/* True when USER (NULL: nobody) can be dropped to: not root, or the user exists. */
bool privs_user_ok(const char *user);

/* Drops root for USER (NULL: nobody), for good: the capability bounding
 * set emptied, groups, gid and uid changed, no_new_privs set; says
 * "lyncaudit: <doing> as user USER" unless quiet. Not root: nothing to do,
 * unless USER was asked for. 0, or -1 with the reason printed. */
int privs_drop(const char *user, const char *doing, bool quiet);

#endif
