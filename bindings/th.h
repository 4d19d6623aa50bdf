/* th.h: what the interpreter's files (th.c, th_repl.c, th_complete.c) share.
 * None of this is part of the torch.core C module. */
#ifndef TH_H
#define TH_H

#include <lua.h>

#define TH_VERSION "Ember 0.1.0 (" LUA_RELEASE ")"
#define TH_PROGNAME "th"

/* Runs the function below its narg arguments under a traceback handler, with
 * Ctrl-C turned into an "interrupted!" error while it runs. */
int th_docall(lua_State *L, int narg, int nres);

/* Prints the error message on top of the stack (if status is not LUA_OK) to
 * stderr and pops it; returns status. */
int th_report(lua_State *L, int status);

/* The read-eval-print loop. interactive: prompts and readline (stdin is a
 * terminal); otherwise lines come from stdin with no prompts. */
void th_repl(lua_State *L, int interactive);

/* Readline completion: installs the completer that asks th.repl for
 * candidates (see lua/th/repl.lua). */
void th_complete_init(lua_State *L);

#endif
