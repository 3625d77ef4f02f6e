/*
** main.c — gfhost: run pipeline scripts written in Lua on fast native modules.
**
** Everything after argument dispatch runs inside one protected call (pmain) whose message
** handler adds a traceback. Exit codes: 0 success, 1 failure, 2 usage, 130 interrupted.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

static const char HOST_KEY = 'h';

static const char USAGE[] =
    "usage: gfhost <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  run <name|path> [args...]   run scripts/<name>.lua (or a Lua file) as the main task\n"
    "  spec [busted args...]       run the specs (busted) inside the host\n"
    "  list                        list the scripts and workflows with their descriptions\n"
    "  dag <workflow> --out DIR    write HTCondor DAGMan files for a workflow\n"
    "  task <workflow> <node>      run one workflow node (what DAG nodes run)\n"
    "  worker --queue URL          run workflow nodes from an SQS queue\n"
    "  serve --state PATH|URL      status page and JSON API of runs and payloads\n"
    "  version                     gfhost and library versions\n"
    "  help                        this text\n"
    "\n"
    "`gfhost run <name> --help` shows a script's options.\n"
    "environment: GFHOST_ROOT (Lua tree), GFHOST_WORKERS (worker threads),\n"
    "             GFHOST_LOG_LEVEL (debug|info|warn|error), GFHOST_LOG_FORMAT (text|json)\n";

gf_host *gf_host_get(lua_State *L)
{
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  gf_host *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!h) luaL_error(L, "gfhost: this module needs the gfhost host");
  return h;
}

static int msghandler(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (!msg) return 1; /* error objects pass unchanged */
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int worker_count(void)
{
  const char *env = getenv("GFHOST_WORKERS");
  if (env && atoi(env) > 0) return atoi(env);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 2 ? 2 : (int)n;
}

static void open_host(lua_State *L, gf_host *h)
{
  luaL_checkversion(L);
  lua_pushlightuserdata(L, h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  luaL_openlibs(L);
  gf_preload_modules(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gf_task_core);
  lua_setfield(L, -2, "gf.task.core");
  lua_pushcfunction(L, luaopen_gf_host);
  lua_setfield(L, -2, "gf.host.core");
  lua_pop(L, 1);
  gf_paths_setup(L, h);
  lua_gc(L, LUA_GCGEN, 0, 0);
}

/* Push the main chunk for a command and its arguments; return the argument count. */
static int push_main(lua_State *L, gf_host *h, int argc, char **argv)
{
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) {
    if (argc < 3) {
      lua_pushliteral(L, "gfhost run: missing script name (see gfhost list)");
      lua_pushinteger(L, 2);
      return -1;
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "gf.host");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load_script");
    lua_remove(L, -2);
    lua_pushstring(L, argv[2]);
    lua_call(L, 1, 2); /* fn | nil, message */
    if (lua_isnil(L, -2)) {
      lua_remove(L, -2);
      lua_pushinteger(L, 2);
      return -1;
    }
    lua_pop(L, 1);
    for (int i = 3; i < argc; i++) lua_pushstring(L, argv[i]);
    return argc - 3;
  }
  (void)h;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "gf.host");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "command");
  lua_remove(L, -2);
  for (int i = 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return argc - 1;
}

static int pmain(lua_State *L)
{
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  gf_host *h = lua_touserdata(L, 3);
  lua_settop(L, 0);
  open_host(L, h);
  int nargs = push_main(L, h, argc, argv);
  if (nargs < 0) { /* [message exit] */
    fprintf(stderr, "gfhost: %s\n", lua_tostring(L, -2));
    h->exit_code = (int)lua_tointeger(L, -1);
    return 0;
  }
  gf_task *t = gf_task_spawn(h, L, nargs);
  t->is_main = 1;
  gf_host_run(h);
  return 0;
}

static int known_command(const char *cmd)
{
  static const char *cmds[] = {"run",  "spec",   "list",  "version", "dag",
                               "task", "worker", "serve", NULL};
  for (int i = 0; cmds[i]; i++)
    if (strcmp(cmd, cmds[i]) == 0) return 1;
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0) argv[1] = "version";
  if (!known_command(argv[1])) {
    fprintf(stderr, "gfhost: unknown command '%s' (see gfhost help)\n", argv[1]);
    return 2;
  }

  static gf_host host;
  char err[256];
  gf_paths_detect(&host, argv[0]);
  if (gf_host_init(&host, err, sizeof err) != 0) {
    fprintf(stderr, "gfhost: %s\n", err);
    return 1;
  }
  host.pool = gf_pool_start(&host.loop, worker_count());
  if (!host.pool) {
    fprintf(stderr, "gfhost: cannot start worker threads\n");
    return 1;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "gfhost: cannot create Lua state: not enough memory\n");
    return 1;
  }
  host.L = L;
  *(gf_task **)lua_getextraspace(L) = NULL; /* not a task; plain coroutines copy this */
  gf_signals_install(&host);

  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  lua_pushlightuserdata(L, &host);
  int status = lua_pcall(L, 3, 0, 1);
  int code = host.exit_code;
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "gfhost: %s\n", msg ? msg : "(error object is not a string)");
    code = 1;
  } else if (host.interrupted) {
    fprintf(stderr, "gfhost: interrupted\n");
    code = 130;
  } else if (code == 0 && host.task_failures > 0) {
    code = 1;
  }
  fflush(stdout);
  lua_close(L); /* __gc/__close of every module runs while the loop still exists */
  gf_pool_stop(host.pool);
  gf_loop_step(&host.loop, 0); /* release jobs whose tasks were cancelled */
  gf_loop_close(&host.loop);
  return code;
}
