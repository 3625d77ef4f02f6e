/*
** signals.c — SIGINT/SIGTERM set a flag, wake the loop and arm a hook on the running coroutine
** so that even a busy Lua loop stops (as lua.c's laction does). A second signal exits at once.
*/
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

static gf_host *volatile g_host;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  gf_task *t = gf_task_of(L);
  if (t) t->cancelled = t->cancel_seen = 1; /* raised here: its clean-up may still wait */
  luaL_error(L, "interrupted");
}

static void on_signal(int sig)
{
  gf_host *h = g_host;
  if (!h) _exit(130);
  if (h->interrupted) _exit(130);
  h->interrupted = sig;
  lua_State *co = h->running;
  if (co) lua_sethook(co, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  gf_loop_wake(&h->loop);
}

void gf_signals_install(gf_host *h)
{
  struct sigaction sa;
  g_host = h;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}
