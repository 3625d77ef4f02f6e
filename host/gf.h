/*
** gf.h — what the host offers native modules.
**
** A native function that has to wait (a worker-thread job, an HTTP transfer) never blocks the
** process: it hands the work to the host and returns the result of gf_work()/gf_curl(). Inside a
** gf task that yields the task and the event loop resumes it when the work is done; anywhere else
** (the main state, a plain coroutine, a metamethod) the call drives the loop's I/O itself until
** the work is done. Either way the Lua caller sees an ordinary function call.
**
** Ownership: `ud` passes to the host at the call, whatever happens next (including an error
** raised before the work starts). The host calls release(ud) exactly once.
*/
#ifndef GF_H
#define GF_H

#include <curl/curl.h>
#include <lua.h>

#include "loop.h"

typedef void (*gf_work_fn)(void *ud);              /* worker thread: no Lua, no host calls */
typedef int (*gf_push_fn)(lua_State *L, void *ud); /* loop thread: push results, return count;
                                                      it must not raise (release would not run) */
typedef void (*gf_release_fn)(void *ud);           /* free ud; called once */

/* Run work(ud) on the worker pool, then push(L, ud) in the caller. */
int gf_work(lua_State *L, gf_work_fn work, gf_push_fn push, gf_release_fn release, void *ud);

/*
** (Link the `gfcurl` target to use these; libcurl then loads with your module, not at start-up.)
** Run `easy` on the host's curl multi handle. When it ends, push(L, easy, result, ud) pushes the
** results. The easy handle stays owned by the module: release(ud) must clean it up. The host
** uses CURLOPT_PRIVATE; the module must not.
*/
typedef int (*gf_curl_push_fn)(lua_State *L, CURL *easy, CURLcode result, void *ud);
int gf_curl(lua_State *L, CURL *easy, gf_curl_push_fn push, gf_release_fn release, void *ud);

/* The shared multi handle (for connection-pool settings); NULL outside the host. */
CURLM *gf_curl_multi(lua_State *L);

/*
** Event sources. A task waits for a descriptor with gf_wait_fd: it parks until fd is ready for
** events (GF_IO_READ | GF_IO_WRITE) or timeout_s passes (< 0: no timeout), then pushes the
** ready events (an integer of GF_IO_* bits; GF_IO_ERROR on a hang-up or error) or
** nil, message, "timeout". Use it as `return gf_wait_fd(L, fd, GF_IO_READ, 5.0)` and retry the
** non-blocking operation from the Lua facade. A source that must react on the loop thread by
** itself (a server's listening socket, a library's socket set) starts gf_watch watchers with a C
** callback on gf_host_loop(L) instead (loop.h); docs/modules.md shows both.
*/
int gf_wait_fd(lua_State *L, int fd, int events, double timeout_s);
gf_loop *gf_host_loop(lua_State *L);

/* True once SIGINT/SIGTERM arrived: long native loops should stop early. */
int gf_interrupted(lua_State *L);

/* Number of worker threads in the pool. */
int gf_pool_size(lua_State *L);

/*
** In the metatable on top of the stack, fn becomes both __gc and __close: every gfhost object
** that owns a resource frees it the same way whether it is collected or leaves a `<close>`
** scope (fn must be idempotent).
*/
static inline void gf_set_finalizer(lua_State *L, lua_CFunction fn)
{
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, "__close");
}

/*
** Helpers for the `nil, message, code` convention. gf_fail pushes nil, the formatted message and
** the code and returns 3, so a binding can `return gf_fail(L, "io", "fs.read %s: %s", path, err)`.
*/
int gf_fail(lua_State *L, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
