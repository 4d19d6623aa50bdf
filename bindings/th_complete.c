/* Tab completion for the REPL: readline hands over the word before the
 * cursor (`torch.ze`, `x:si`, `pri`), th.repl.complete (lua/th/repl.lua)
 * returns the full candidates, and the list shows only their last part. */
#include "th.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

/* '.', ':' and '_' are not word breaks: `a.b:c` completes as one word */
#define TH_WORD_BREAKS " \t\n\"'`@$><=;|&{}()[],+-*/%^~#!"

static lua_State *complete_L; /* the REPL's state: idle while readline waits */

/* Pushes th.repl.complete(text) as a table, or returns 0 on any failure. */
static int candidates(lua_State *L, const char *text)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "th.repl");
    lua_remove(L, -2);
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "complete") != LUA_TFUNCTION) {
        lua_pop(L, lua_istable(L, -1) ? 2 : 1);
        return 0;
    }
    lua_remove(L, -2);
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Readline's form of the answer: [0] the longest common prefix, then each
 * candidate, then NULL; one candidate alone is [0]. */
static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;   /* never fall back to file names */
    rl_completion_append_character = '\0'; /* readline resets it to ' ' each time */
    lua_State *L = complete_L;
    int top = lua_gettop(L);
    if (!candidates(L, text))
        return NULL;
    size_t n = lua_rawlen(L, -1);
    char **matches = n ? calloc(n + 2, sizeof *matches) : NULL;
    if (matches == NULL) {
        lua_settop(L, top);
        return NULL;
    }
    size_t common = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        const char *s = lua_tostring(L, -1);
        matches[i] = strdup(s ? s : "");
        lua_pop(L, 1);
        if (i == 1) {
            common = strlen(matches[1]);
        } else {
            size_t k = 0;
            while (k < common && matches[i][k] == matches[1][k])
                k++;
            common = k;
        }
    }
    lua_settop(L, top);
    if (n == 1) {
        matches[0] = matches[1];
        matches[1] = NULL;
    } else {
        matches[0] = strndup(matches[1], common);
    }
    return matches;
}

/* Lists `zeros  zeros_like` rather than `torch.zeros  torch.zeros_like`. */
static void display_matches(char **matches, int n, int max_length)
{
    (void)max_length;
    char **shown = calloc((size_t)n + 2, sizeof *shown);
    if (shown == NULL)
        return;
    int width = 0;
    for (int i = 1; i <= n; i++) {
        const char *s = matches[i];
        const char *cut = strrchr(s, '.'), *colon = strrchr(s, ':');
        if (colon && (!cut || colon > cut))
            cut = colon;
        shown[i] = (char *)(cut ? cut + 1 : s);
        int len = (int)strlen(shown[i]);
        if (len > width)
            width = len;
    }
    shown[0] = matches[0];
    rl_display_match_list(shown, n, width);
    rl_forced_update_display();
    free(shown);
}

void th_complete_init(lua_State *L)
{
    complete_L = L;
    rl_basic_word_break_characters = TH_WORD_BREAKS;
    rl_completer_word_break_characters = TH_WORD_BREAKS;
    rl_attempted_completion_function = complete;
    rl_completion_display_matches_hook = display_matches;
    rl_variable_bind("show-all-if-ambiguous", "on"); /* one Tab lists, as IPython does */
}
