/* The REPL: reads a chunk (several lines while it is incomplete), runs it
 * under th_docall and prints what it returns through th.repl's pretty
 * printer. On a terminal it reads with GNU readline (history in
 * ~/.th_history, completion in th_complete.c, Ctrl-C clears the line); on a
 * pipe it reads plain lines and prints no prompts, so tests can drive it. */
#include "th.h"

#include <lauxlib.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define TH_PROMPT "th> "
#define TH_PROMPT2 ">> "
#define TH_HISTORY_FILE ".th_history"
#define TH_HISTORY_MAX 1000
#define EOF_MARK "<eof>" /* how the parser ends a message about an incomplete chunk */

enum { LINE_OK, LINE_EOF, LINE_INTERRUPTED };

/* ---- reading lines ---- */

static volatile sig_atomic_t prompt_interrupted; /* Ctrl-C at the prompt */
static char *rl_result;                         /* the line readline's callback handed over */
static int rl_finished;
static char history_path[4096];

static void on_sigint_prompt(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

static void on_rl_line(char *line)
{
    rl_result = line;
    rl_finished = 1;
    rl_callback_handler_remove();
}

/* One line through readline's callback interface, which lets a Ctrl-C (seen
 * as select() failing with EINTR) abandon the line instead of killing th. */
static int read_line_tty(const char *prompt, char **line)
{
    rl_result = NULL;
    rl_finished = 0;
    prompt_interrupted = 0;
    rl_callback_handler_install(prompt, on_rl_line);
    while (!rl_finished) {
        /* a key readline already read ahead (the Enter after pasted text)
         * is not in stdin any more: handle it before waiting */
        if (rl_pending_input) {
            rl_callback_read_char();
            continue;
        }
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(STDIN_FILENO, &fds);
        int n = select(STDIN_FILENO + 1, &fds, NULL, NULL, NULL);
        if (n < 0 && errno == EINTR) {
            if (!prompt_interrupted)
                continue; /* another signal (a window resize) */
            rl_free_line_state();
            rl_clear_pending_input();
            rl_callback_sigcleanup();
            rl_cleanup_after_signal();
            rl_callback_handler_remove();
            fputs("\n", stdout);
            fflush(stdout);
            return LINE_INTERRUPTED;
        }
        if (n < 0) {
            rl_callback_handler_remove();
            return LINE_EOF;
        }
        rl_callback_read_char();
    }
    if (rl_result == NULL) { /* Ctrl-D on an empty line */
        fputs("\n", stdout);
        fflush(stdout);
        return LINE_EOF;
    }
    *line = rl_result;
    return LINE_OK;
}

static int read_line_pipe(char **line)
{
    size_t cap = 0;
    *line = NULL;
    ssize_t n = getline(line, &cap, stdin);
    if (n < 0) {
        free(*line);
        *line = NULL;
        return LINE_EOF;
    }
    if (n > 0 && (*line)[n - 1] == '\n')
        (*line)[n - 1] = '\0';
    return LINE_OK;
}

/* The prompt: the global _PROMPT / _PROMPT2 when set (as in lua.c), else ours. */
static const char *get_prompt(lua_State *L, int first)
{
    const char *p = NULL;
    if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TSTRING)
        p = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive in the global */
    return p ? p : first ? TH_PROMPT : TH_PROMPT2;
}

static int read_line(lua_State *L, int interactive, int first, char **line)
{
    return interactive ? read_line_tty(get_prompt(L, first), line) : read_line_pipe(line);
}

/* ---- history ---- */

static void history_open(void)
{
    const char *home = getenv("HOME");
    stifle_history(TH_HISTORY_MAX);
    if (home == NULL || snprintf(history_path, sizeof history_path, "%s/%s", home, TH_HISTORY_FILE)
                            >= (int)sizeof history_path) {
        history_path[0] = '\0';
        return;
    }
    if (read_history(history_path) == ENOENT)
        write_history(history_path); /* creates it, so later appends work */
    else
        history_truncate_file(history_path, TH_HISTORY_MAX);
}

static void history_add(const char *chunk)
{
    if (chunk[strspn(chunk, " \t\n")] == '\0')
        return;
    add_history(chunk);
    if (history_path[0])
        append_history(1, history_path); /* failures are ignored: history is a convenience */
}

/* ---- compiling a chunk ---- */

static int is_incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX)
        return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    size_t mark = sizeof EOF_MARK - 1;
    return msg && len >= mark && strcmp(msg + len - mark, EOF_MARK) == 0;
}

/* Compiles the chunk text at the top of the stack and pushes the function
 * or the error message; returns the load status, or -1 (nothing pushed) when
 * the chunk is incomplete. An expression compiles as `return <text>` so
 * that its values print. */
static int compile_chunk(lua_State *L)
{
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    const char *ret = lua_pushfstring(L, "return %s", text);
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
    lua_remove(L, -2); /* ret */
    if (status == LUA_OK)
        return LUA_OK;
    int ret_incomplete = is_incomplete(L, status);
    lua_pop(L, 1);
    status = luaL_loadbuffer(L, text, len, "=stdin");
    if (status == LUA_OK || !(ret_incomplete || is_incomplete(L, status)))
        return status;
    lua_pop(L, 1);
    return -1;
}

enum { CHUNK_EOF = -1, CHUNK_INTERRUPTED = -2 };

/* Reads lines until they make a complete chunk; pushes its text and then the
 * compiled function (LUA_OK) or the error message, and returns the load
 * status. At the end of input or after Ctrl-C, pushes nothing and returns
 * CHUNK_EOF or CHUNK_INTERRUPTED. */
static int read_chunk(lua_State *L, int interactive)
{
    char *line;
    int rc = read_line(L, interactive, 1, &line);
    if (rc != LINE_OK)
        return rc == LINE_EOF ? CHUNK_EOF : CHUNK_INTERRUPTED;
    lua_pushstring(L, line);
    free(line);
    int status;
    while ((status = compile_chunk(L)) == -1) {
        rc = read_line(L, interactive, 0, &line);
        if (rc == LINE_INTERRUPTED) {
            lua_pop(L, 1);
            return CHUNK_INTERRUPTED;
        }
        if (rc == LINE_EOF) /* the input ends inside the chunk: report what the parser says */
            return luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
        lua_pushfstring(L, "\n%s", line);
        free(line);
        lua_concat(L, 2);
    }
    return status;
}

/* ---- printing results ---- */

/* Prints the n values on top of the stack (and pops them) through
 * th.repl.show; plain tostring when th.repl could not be loaded. */
static void print_results(lua_State *L, int n)
{
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "th.repl") == LUA_TTABLE && lua_getfield(L, -1, "show") == LUA_TFUNCTION) {
        lua_insert(L, top - n + 1); /* show, vals.., loaded, mod */
        lua_settop(L, top + 1);
        th_report(L, th_docall(L, n, 0));
        return;
    }
    lua_settop(L, top);
    for (int i = n; i >= 1; i--) {
        fputs(luaL_tolstring(L, -i, NULL), stdout); /* pushes the string */
        fputs(i > 1 ? "\t" : "\n", stdout);
        lua_pop(L, 1);
    }
    lua_pop(L, n);
    fflush(stdout);
}

static int ends_with_semicolon(const char *text)
{
    size_t len = strlen(text);
    while (len > 0 && strchr(" \t\r\n", text[len - 1]))
        len--;
    return len > 0 && text[len - 1] == ';';
}

/* ---- the loop ---- */

/* Loads th.repl (pretty printer and completion); the REPL works without it. */
static void load_helpers(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "th.repl");
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "%s: warning: %s\n", TH_PROGNAME, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

void th_repl(lua_State *L, int interactive)
{
    int base = lua_gettop(L);
    load_helpers(L);
    struct sigaction act = { .sa_handler = on_sigint_prompt }, old;
    if (interactive) {
        rl_readline_name = TH_PROGNAME;
        rl_catch_signals = 0; /* Ctrl-C is ours: see read_line_tty */
        th_complete_init(L);
        history_open();
        sigemptyset(&act.sa_mask);
        sigaction(SIGINT, &act, &old);
    }
    for (;;) {
        lua_settop(L, base);
        int status = read_chunk(L, interactive);
        if (status == CHUNK_EOF)
            break;
        if (status == CHUNK_INTERRUPTED)
            continue;
        const char *text = lua_tostring(L, base + 1);
        if (interactive)
            history_add(text);
        if (status == LUA_OK) {
            int silent = ends_with_semicolon(text);
            status = th_docall(L, 0, LUA_MULTRET);
            int n = lua_gettop(L) - (base + 1);
            if (status == LUA_OK && n > 0 && !silent)
                print_results(L, n);
        }
        th_report(L, status);
    }
    if (interactive)
        sigaction(SIGINT, &old, NULL);
    lua_settop(L, base);
}
