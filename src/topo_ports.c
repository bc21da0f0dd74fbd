/* topo_ports.c - hands the topology's ports table to the DSL (topo_ports.h). */
#include "topo_ports.h"

#include <stdio.h>

#include <lua.h>

#define PORTS_INSTRUCTIONS 10000000L

int topo_ports_set(struct luabox *box, int mod_idx, const char *path, char *err, size_t errlen)
{
    lua_State *L = luabox_state(box);
    lua_getfield(L, LUA_REGISTRYINDEX, TOPO_PORTS_KEY);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, mod_idx, "set_ports");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 2);
        snprintf(err, errlen, "%s: the rule language has no M.set_ports (lua/dsl.lua too old for a ports section)", path);
        return -1;
    }
    lua_insert(L, -2);
    const char *text = luabox_last_text(box);
    lua_pushstring(L, text ? text : "");
    if (luabox_call(box, 2, 2, PORTS_INSTRUCTIONS, err, errlen))
        return -1;
    int rc = 0;
    if (lua_isstring(L, -2)) {
        snprintf(err, errlen, "%s:%d: %s", path, (int)lua_tointeger(L, -1), lua_tostring(L, -2));
        rc = -1;
    }
    lua_pop(L, 2);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TOPO_PORTS_KEY);
    return rc;
}
