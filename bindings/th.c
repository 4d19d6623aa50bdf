/* th: the Ember interpreter. A Lua 5.4 state with the C core linked in: it
 * finds Ember's Lua modules relative to its own executable, preloads `torch`
 * (and nn, optim, data, image where they exist), handles lua.c's options and
 * runs a script, -e code, stdin, or the REPL (th_repl.c). */
#include "th.h"

#include <lauxlib.h>
#include <lualib.h>

#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int luaopen_torch_core(lua_State *L);

/* ---- running code: traceback, Ctrl-C, error reports ---- */

static lua_State *running_L; /* the state th_docall is running, for the signal handler */

/* Hook set by the signal handler: raises the error at the next Lua
 * instruction, where it is safe to. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Ctrl-C while Lua runs. Setting a hook is the one thing a signal handler may
 * do to a running state (lua_sethook is async-signal-safe). A second Ctrl-C
 * before the hook fires gets the default action, so a C loop that never
 * returns to Lua can still be killed. */
static void on_sigint_running(int sig)
{
    signal(sig, SIG_DFL);
    if (running_L)
        lua_sethook(running_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Message handler: adds a traceback to the error (a string, or an object
 * with __tostring). */
static int msg_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int th_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg; /* the function's index */
    lua_pushcfunction(L, msg_traceback);
    lua_insert(L, base);
    struct sigaction act = { .sa_handler = on_sigint_running }, old;
    sigemptyset(&act.sa_mask);
    lua_State *prev = running_L;
    running_L = L;
    sigaction(SIGINT, &act, &old);
    int status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    running_L = prev;
    lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that came too late to fire */
    lua_remove(L, base);
    return status;
}

int th_report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", TH_PROGNAME, msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* ---- module paths and preloaded globals ---- */

/* Directory holding the running executable (no trailing slash). */
static void exe_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        snprintf(buf, size, ".");
        return;
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
}

/* Puts Ember's module folders ahead of Lua's defaults: the source tree when run
 * from build/, the installed share/ and lib/ folders when run from bin/. */
static void set_paths(lua_State *L)
{
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/../lua/?.lua;%s/../lua/?/init.lua;%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;%s",
                    dir, dir, dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "cpath");
    lua_pushfstring(L, "%s/?.so;%s/../lib/lua/5.4/?.so;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "cpath");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_torch_core);
    lua_setfield(L, -2, "torch.core");
    lua_pop(L, 2);
}

/* global = require(mod); reports and returns the status. */
static int require_global(lua_State *L, const char *global, const char *mod)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = th_docall(L, 1, 1);
    if (status == LUA_OK)
        lua_setglobal(L, global);
    return th_report(L, status);
}

/* The packages a user expects as globals, each loaded only if it exists:
 * "module 'nn' not found" is silence, any other failure a warning. */
static void preload_optional(lua_State *L)
{
    static const char *const names[] = { "nn", "optim", "data", "image" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        lua_getglobal(L, "require");
        lua_pushstring(L, names[i]);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            lua_setglobal(L, names[i]);
            continue;
        }
        const char *msg = lua_tostring(L, -1);
        char notfound[64];
        snprintf(notfound, sizeof notfound, "module '%s' not found:", names[i]);
        if (msg == NULL || strncmp(msg, notfound, strlen(notfound)) != 0)
            fprintf(stderr, "%s: warning: cannot load %s: %s\n", TH_PROGNAME, names[i],
                    msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
}

/* ---- options ---- */

enum {
    OPT_E = 1,     /* -e */
    OPT_I = 2,     /* -i */
    OPT_V = 4,     /* -v */
    OPT_H = 8,     /* -h */
    OPT_BAD = 16,  /* an unknown option or a missing argument */
};

static void usage(FILE *out, const char *bad)
{
    if (bad)
        fprintf(out, "%s: %s '%s'\n", TH_PROGNAME,
                (bad[1] == 'e' || bad[1] == 'l') && bad[2] == '\0' ? "option needs an argument:"
                                                                    : "unrecognized option",
                bad);
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "Options:\n"
            "  -e stat   run the Lua statement 'stat' (may be given several times)\n"
            "  -i        enter the REPL after running 'script'\n"
            "  -l mod    require 'mod' into the global 'mod'\n"
            "  -l g=mod  require 'mod' into the global 'g'\n"
            "  -v        print the version\n"
            "  -W        turn warnings on\n"
            "  -h        print this help\n"
            "  --        stop handling options\n"
            "  -         stop handling options and run stdin as the script\n"
            "With no script and no -e, th opens the REPL when stdin is a terminal\n"
            "and runs stdin as a script otherwise. torch (and nn, optim, data, image\n"
            "where installed) are preloaded globals; the script sees its arguments in\n"
            "the table 'arg' (arg[0] is the script) and as '...'.\n",
            TH_PROGNAME);
    fflush(out);
}

/* Scans the options; sets *script to the index of the script name (argc if
 * none) and *bad to the offending option. Returns the OPT_ flags. */
static int scan_args(int argc, char **argv, int *script, const char **bad)
{
    int flags = 0, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') /* a script name, or "-" (stdin) */
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        switch (a[1]) {
        case 'e':
        case 'l':
            if (a[1] == 'e')
                flags |= OPT_E;
            if (a[2] == '\0' && ++i >= argc) { /* the argument follows */
                *bad = a;
                return flags | OPT_BAD;
            }
            continue;
        case 'i':
        case 'v':
        case 'h':
        case 'W':
            if (a[2] != '\0')
                break;
            flags |= a[1] == 'i' ? OPT_I : a[1] == 'v' ? OPT_V : a[1] == 'h' ? OPT_H : 0;
            continue;
        default:
            break;
        }
        if (strcmp(a, "--help") == 0) {
            flags |= OPT_H;
            continue;
        }
        *bad = a;
        return flags | OPT_BAD;
    }
    *script = i;
    return flags;
}

/* The global `arg`, as lua.c builds it: arg[0] is the script, arg[1..] its
 * arguments, the interpreter and its options at negative indices. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    if (script == argc)
        script = 0; /* no script: everything counts as an argument of th */
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Runs the -e, -l and -W options in command-line order. */
static int run_options(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[1] == 'W' && a[2] == '\0') {
            lua_warning(L, "@on", 0);
            continue;
        }
        if (a[1] != 'e' && a[1] != 'l')
            continue;
        const char *value = a[2] != '\0' ? a + 2 : argv[++i];
        if (a[1] == 'e') {
            int status = luaL_loadbuffer(L, value, strlen(value), "=(command line)");
            if (status == LUA_OK)
                status = th_docall(L, 0, 0);
            if (th_report(L, status) != LUA_OK)
                return 0;
        } else {
            const char *eq = strchr(value, '=');
            if (eq) {
                lua_pushlstring(L, value, (size_t)(eq - value));
                int status = require_global(L, lua_tostring(L, -1), eq + 1);
                lua_pop(L, 1);
                if (status != LUA_OK)
                    return 0;
            } else if (require_global(L, value, value) != LUA_OK) {
                return 0;
            }
        }
    }
    return 1;
}

/* Loads the script (NULL: stdin) and calls it with argv[first..argc-1] as `...`. */
static int run_script(lua_State *L, const char *fname, int argc, char **argv, int first)
{
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = 0;
        luaL_checkstack(L, argc - first, "too many arguments to script");
        for (int i = first; i < argc; i++, n++)
            lua_pushstring(L, argv[i]);
        status = th_docall(L, n, 0);
    }
    return th_report(L, status) == LUA_OK;
}

static void print_version(void)
{
    printf("%s\n", TH_VERSION);
    fflush(stdout);
}

/* Everything runs in protected mode so that even an out-of-memory error in
 * the set-up is reported. Returns true on success. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script = argc;
    const char *bad = NULL;
    int flags = scan_args(argc, argv, &script, &bad);
    if (flags & OPT_BAD) {
        usage(stderr, bad);
        return 0;
    }
    if (flags & OPT_H) {
        usage(stdout, NULL);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (flags & OPT_V)
        print_version();

    luaL_openlibs(L);
    set_paths(L);
    create_arg_table(L, argc, argv, script);
    if (require_global(L, "torch", "torch") != LUA_OK)
        return 0;
    preload_optional(L);
    /* Generational mode: tensor code makes many short-lived userdata (every op
     * result), which the generational collector frees young and cheaply. A minor
     * collection after 10% growth (Lua's default is 20%) hands the freed tensor
     * headers back while they are still in cache: a + b on small tensors went
     * from 0.36 to 0.27 us. The switch comes after the packages are loaded (the
     * collector is stopped until then): entering generational mode then starts
     * from one full collection with everything loaded marked old. Switching
     * before loading let the load's growth leave the collector doing major
     * collections on every step, which made a + b with nn loaded 5x slower. */
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 10, 0);
    if (!run_options(L, argv, script))
        return 0;

    if (script < argc) {
        const char *fname = argv[script];
        if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
            fname = NULL; /* "-" is stdin, unless it came after "--" */
        if (!run_script(L, fname, argc, argv, script + 1))
            return 0;
    }
    if (flags & OPT_I) {
        th_repl(L, isatty(STDIN_FILENO));
    } else if (script == argc && !(flags & (OPT_E | OPT_V))) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            th_repl(L, 1);
        } else if (!run_script(L, NULL, argc, argv, argc)) {
            return 0;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Lua's allocator for th: small blocks (up to 256 bytes: every tensor's userdata,
 * closures, small tables) come from per-size free lists, because the collector
 * frees them in bursts and glibc's slow path then dominated the per-op cost.
 * Larger blocks go to malloc. Under AddressSanitizer everything goes to malloc. */
#define SMALL_STEP 16
#define SMALL_MAX 256
#define SMALL_CLASSES (SMALL_MAX / SMALL_STEP + 1)
#define SMALL_KEEP 8192

typedef struct small_block {
    struct small_block *next;
} small_block;

static small_block *small_free[SMALL_CLASSES];
static int small_count[SMALL_CLASSES];

static size_t small_class(size_t n)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)n;
    return 0;
#else
    return n <= SMALL_MAX ? (n + SMALL_STEP - 1) / SMALL_STEP : 0;
#endif
}

static void small_release(void *p, size_t c)
{
    if (c == 0 || small_count[c] >= SMALL_KEEP) {
        free(p);
        return;
    }
    small_block *b = p;
    b->next = small_free[c];
    small_free[c] = b;
    small_count[c]++;
}

static void *small_take(size_t c)
{
    small_block *b = small_free[c];
    if (b) {
        small_free[c] = b->next;
        small_count[c]--;
        return b;
    }
    return malloc(c * SMALL_STEP);
}

static void *th_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t oc = ptr ? small_class(osize) : 0;
    if (nsize == 0) {
        if (ptr)
            small_release(ptr, oc);
        return NULL;
    }
    size_t nc = small_class(nsize);
    if (!ptr)
        return nc ? small_take(nc) : malloc(nsize);
    if (oc == 0 && nc == 0)
        return realloc(ptr, nsize);
    if (oc == nc)
        return ptr;
    void *n = nc ? small_take(nc) : malloc(nsize);
    if (!n)
        return NULL; /* Lua keeps the old block */
    memcpy(n, ptr, osize < nsize ? osize : nsize);
    small_release(ptr, oc);
    return n;
}

static int th_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "th: unprotected error: %s\n", msg ? msg : "?");
    return 0;
}

/* OpenMP threads that finish a parallel region spin for a while (libgomp's default)
 * before they sleep. That is fastest on a machine Ember has to itself (a training step
 * is many short regions, and spinning threads start the next one at once), but when
 * the other cores are busy a spinning thread keeps its core from the partner the
 * region waits for, and every region then costs milliseconds (an MLP epoch on a busy
 * 2-core machine: 19 s spinning, 1.2 s sleeping at once). So when the machine is
 * already loaded as th starts (the 1-minute load average above the core count + 1),
 * th asks for OMP_WAIT_POLICY=passive. libgomp reads it when it loads, before main
 * runs, so th sets it and starts itself again; a policy the user set is kept. */
static void openmp_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    int ok = fscanf(f, "%lf", &load) == 1;
    fclose(f);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!ok || ncpu < 1 || load <= (double)ncpu + 1)
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* no /proc: carry on with libgomp's default (the variable stays set for children) */
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /* Blocks of 1 MiB and more get their own mappings and go back to the system
     * when freed. glibc's default raises that threshold to the size of the largest
     * block freed (up to 32 MiB), after which big short-lived blocks (a dataset
     * file read into a Lua string, its inflated contents) land in the heap and stay
     * in the process's resident memory once freed: 30 MB more peak RSS for the
     * Fashion-MNIST benchmarks. Tensor storage is cached by core/alloc.c anyway. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    openmp_wait_policy(argv);
    lua_State *L = lua_newstate(th_alloc, NULL);
    if (L)
        lua_atpanic(L, th_panic);
    if (!L) {
        fprintf(stderr, "%s: cannot create the Lua state: not enough memory\n", TH_PROGNAME);
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* no collections while the state is built */
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = status == LUA_OK && lua_toboolean(L, -1);
    th_report(L, status);
    lua_close(L);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
