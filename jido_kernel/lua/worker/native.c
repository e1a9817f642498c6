/*
 * The sandbox's C functions: the limit hook, and the library functions that must work
 * with it (coroutines, pcall, xpcall, setmetatable), written as stock Lua 5.4 writes them
 * (lbaselib.c, lcorolib.c) so that cells see stock behaviour at stock speed.
 *
 * Stopping. No hook is installed while a run stays within its limits. A stopper keeps,
 * for each depth of nested resumes, the thread last resumed there (`chain`); the Lua
 * thread updates it only when a different thread is resumed at a depth, so a generator
 * resumed again and again from the same place costs one comparison. When a limit trips,
 * stopper_trip (any OS thread) arms a count hook of 1 on every thread of the chain; the
 * hook raises the same preallocated error before every instruction until the run has
 * unwound, so pcall, xpcall, coroutines and __close handlers cannot swallow the stop. A
 * thread entered after the trip is armed on entry; new threads never inherit a hook.
 * Every thread in the chain is kept referenced from the `entered` table until another
 * takes its place (under the stopper's lock), so the tripping thread never touches a
 * collected one.
 *
 * Memory. A real allocation failure caught by pcall, xpcall, load, a resume or a close
 * trips the memory limit, whatever error finally reaches it (a __close handler may raise
 * another). Stock Lua also raises the string "not enough memory" given to `error` as a
 * memory error, with the same status and value, so the status cannot tell: the state's
 * allocator, wrapped here, counts the allocations that failed for good (a failure Lua
 * then retries successfully after its emergency collection does not count).
 *
 * The Lua API is taken from the lupa module that holds the Lua state (jido_bind), so
 * this library links against no Lua of its own.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

/* -- the Lua API of the lupa module, bound at run time ---------------------------- */

#define LUA_FUNCTIONS(X)                                                               \
  X(lua_version) X(lua_gettop) X(lua_settop) X(lua_pushvalue) X(lua_rotate)           \
  X(lua_copy) X(lua_checkstack) X(lua_xmove) X(lua_type) X(lua_tothread)              \
  X(lua_tolstring) X(lua_touserdata) X(lua_rawequal) X(lua_pushboolean)               \
  X(lua_pushstring) X(lua_pushcclosure) X(lua_pushlightuserdata) X(lua_rawget)        \
  X(lua_rawgeti) X(lua_rawgetp) X(lua_rawseti) X(lua_rawsetp) X(lua_createtable)      \
  X(lua_setfield) X(lua_setmetatable) X(lua_pcallk) X(lua_callk) X(lua_error)         \
  X(lua_resume) X(lua_status) X(lua_closethread) X(lua_newthread) X(lua_sethook) X(lua_gethook) \
  X(lua_getstack) X(lua_getinfo) X(lua_concat) X(lua_setglobal)                       \
  X(luaL_checkany) X(luaL_checktype) X(luaL_typeerror) X(luaL_where) X(luaL_error)    \
  X(luaL_getmetafield) X(luaL_ref) X(luaL_optinteger) X(lua_toboolean) X(lua_pushnil)      \
  X(lua_setupvalue) X(lua_tointegerx) X(lua_getfield) X(lua_next) X(lua_rawset) X(lua_topointer) X(lua_setallocf) X(lua_load) X(luaL_loadbufferx) X(luaL_optlstring) X(luaL_checkstack) X(lua_isstring)    \
  X(luaL_checkoption) X(lua_gc) X(lua_pushnumber) X(lua_pushinteger) X(luaL_buffinit)          \
  X(luaL_addvalue) X(luaL_pushresult) X(luaL_tolstring) X(luaL_prepbuffsize)

#define DECLARE(name) static __typeof__(&name) p_##name;
LUA_FUNCTIONS(DECLARE)
#undef DECLARE

/* From here on every Lua API call (also those inside lua.h's macros) goes through
   the bound pointers. */
#define lua_version p_lua_version
#define lua_gettop p_lua_gettop
#define lua_settop p_lua_settop
#define lua_pushvalue p_lua_pushvalue
#define lua_rotate p_lua_rotate
#define lua_copy p_lua_copy
#define lua_checkstack p_lua_checkstack
#define lua_xmove p_lua_xmove
#define lua_type p_lua_type
#define lua_tothread p_lua_tothread
#define lua_tolstring p_lua_tolstring
#define lua_touserdata p_lua_touserdata
#define lua_rawequal p_lua_rawequal
#define lua_pushboolean p_lua_pushboolean
#define lua_pushstring p_lua_pushstring
#define lua_pushcclosure p_lua_pushcclosure
#define lua_pushlightuserdata p_lua_pushlightuserdata
#define lua_rawget p_lua_rawget
#define lua_rawgeti p_lua_rawgeti
#define lua_rawgetp p_lua_rawgetp
#define lua_rawseti p_lua_rawseti
#define lua_rawsetp p_lua_rawsetp
#define lua_createtable p_lua_createtable
#define lua_setfield p_lua_setfield
#define lua_setmetatable p_lua_setmetatable
#define lua_pcallk p_lua_pcallk
#define lua_callk p_lua_callk
#define lua_error p_lua_error
#define lua_resume p_lua_resume
#define lua_status p_lua_status
#define lua_closethread p_lua_closethread
#define lua_newthread p_lua_newthread
#define lua_sethook p_lua_sethook
#define lua_gethook p_lua_gethook
#define lua_getstack p_lua_getstack
#define lua_getinfo p_lua_getinfo
#define lua_concat p_lua_concat
#define lua_setglobal p_lua_setglobal
#define luaL_checkany p_luaL_checkany
#define luaL_checktype p_luaL_checktype
#define luaL_typeerror p_luaL_typeerror
#define luaL_where p_luaL_where
#define luaL_error p_luaL_error
#define luaL_getmetafield p_luaL_getmetafield
#define luaL_ref p_luaL_ref
#define luaL_optinteger p_luaL_optinteger
#define lua_toboolean p_lua_toboolean
#define lua_pushnil p_lua_pushnil
#define lua_setupvalue p_lua_setupvalue
#define lua_tointegerx p_lua_tointegerx
#define lua_next p_lua_next
#define lua_getfield p_lua_getfield
#define lua_rawset p_lua_rawset
#define lua_topointer p_lua_topointer
#define lua_setallocf p_lua_setallocf
#define lua_load p_lua_load
#define luaL_loadbufferx p_luaL_loadbufferx
#define luaL_optlstring p_luaL_optlstring
#define luaL_checkstack p_luaL_checkstack
#define lua_isstring p_lua_isstring
#define luaL_checkoption p_luaL_checkoption
#define lua_gc p_lua_gc
#define lua_pushnumber p_lua_pushnumber
#define lua_pushinteger p_lua_pushinteger
#define luaL_buffinit p_luaL_buffinit
#define luaL_addvalue p_luaL_addvalue
#define luaL_pushresult p_luaL_pushresult
#define luaL_tolstring p_luaL_tolstring
#define luaL_prepbuffsize p_luaL_prepbuffsize

/* Bind the Lua API of the already loaded shared object `path` (lupa.lua54); 0 on
   success, else the index + 1 of the first missing function or -1. */
int jido_bind(const char *path) {
  void *module = dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
  int index = 0;
  if (module == NULL) return -1;
#define BIND(name)                                                                     \
  index++;                                                                             \
  p_##name = (__typeof__(p_##name))dlsym(module, #name);                               \
  if (p_##name == NULL) return index;
  LUA_FUNCTIONS(BIND)
#undef BIND
  return 0;
}

/* -- the stopper --------------------------------------------------------------------- */

enum { MAX_DEPTH = 256, WHERE_SIZE = 256 };
enum { REASON_NONE = 0, REASON_TIMEOUT = 1, REASON_INTERRUPT = 2, REASON_MEMORY = 3 };

static const char STOPPED[] =
    "Lua execution stopped: a time, interrupt or memory limit was reached";
static const char STOPPER_KEY = 's';  /* registry: light userdata, the state's Sandbox */
static const char STOPPED_KEY = 'e';  /* registry: the hook's error value */

typedef struct Stopper {
  pthread_mutex_t lock;
  atomic_int armed;
  int running;
  int reason;
  unsigned failures;      /* allocations that failed for good (Lua thread) */
  unsigned run_failures;  /* `failures` when the run began */
  int depth;  /* nested resumes now (Lua thread only) */
  int top;    /* highest depth entered in this run */
  lua_State *chain[MAX_DEPTH + 1];  /* depth -> thread last resumed there (0: main) */
  char where[WHERE_SIZE];  /* "chunk:line" where the hook first fired in this run */
} Stopper;

/* What one Lua state's functions share: its stopper (shared by the states a worker
   makes, one after the other), its memory account and limit, and three tables. It lives
   as long as the state: the allocator frees it with the state's last block. */
typedef struct Sandbox {
  Stopper *s;
  lua_State *main;
  size_t used;      /* bytes the state holds */
  size_t base;      /* bytes it held when installed; the limit counts from there */
  size_t max;       /* bytes beyond `base` cells may use */
  size_t limit;     /* `used` may not pass this while a cell runs (SIZE_MAX: no limit) */
  int entered;      /* registry reference of the `entered` table: depth -> thread */
  int left;         /* registry reference of a weak set: threads that left the chain armed */
  int killed;       /* registry reference of a weak set: coroutines the stop killed */
  int failed;       /* the last allocation failed (counted); Lua may retry it */
  void *failed_block;
  size_t failed_size;
} Sandbox;

Stopper *jido_stopper_new(void) {
  Stopper *s = calloc(1, sizeof(Stopper));
  if (s != NULL) pthread_mutex_init(&s->lock, NULL);
  return s;
}

static void stop_hook(lua_State *L, lua_Debug *ar) {
  Sandbox *b;
  Stopper *s;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STOPPER_KEY);
  b = (Sandbox *)lua_touserdata(L, -1);
  s = b != NULL ? b->s : NULL;
  if (s != NULL && s->where[0] == '\0' && lua_getinfo(L, "Sl", ar)) {
    int written = snprintf(s->where, WHERE_SIZE, "%s:%d", ar->short_src, ar->currentline);
    if (written <= 0) s->where[0] = '?';
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STOPPED_KEY);  /* preallocated: no allocation */
  lua_error(L);
}

static void arm(lua_State *T) { lua_sethook(T, stop_hook, LUA_MASKCOUNT, 1); }

/* A run starts on `main`. */
void jido_stopper_begin(Stopper *s, lua_State *main) {
  pthread_mutex_lock(&s->lock);
  memset(s->chain, 0, sizeof s->chain);
  s->chain[0] = main;
  s->top = 0;
  s->depth = 0;
  s->reason = REASON_NONE;
  s->run_failures = s->failures;
  s->where[0] = '\0';
  atomic_store(&s->armed, 0);
  s->running = 1;
  pthread_mutex_unlock(&s->lock);
}

/* The run is over: nothing arms a thread any more; the main thread is disarmed here,
   the coroutines by `release`. */
void jido_stopper_end(Stopper *s) {
  pthread_mutex_lock(&s->lock);
  s->running = 0;
  if (atomic_load(&s->armed)) {
    lua_sethook(s->chain[0], NULL, 0, 0);
    atomic_store(&s->armed, 0);
  }
  pthread_mutex_unlock(&s->lock);
}

/* Stop the run in progress (from any OS thread); returns 1 if `reason` is the first. */
int jido_stopper_trip(Stopper *s, int reason) {
  int first = 0;
  pthread_mutex_lock(&s->lock);
  if (s->running) {
    if (s->reason == REASON_NONE) {
      s->reason = reason;
      first = 1;
    }
    if (!atomic_load(&s->armed)) {
      atomic_store(&s->armed, 1);
      for (int d = 0; d <= s->top; d++)
        if (s->chain[d] != NULL) arm(s->chain[d]);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return first;
}

int jido_stopper_reason(Stopper *s) {
  int reason;
  pthread_mutex_lock(&s->lock);
  reason = s->reason;
  pthread_mutex_unlock(&s->lock);
  return reason;
}

/* After a run: 1 if an allocation failed for good during it. */
int jido_stopper_allocation_failed(Stopper *s) { return s->failures != s->run_failures; }

/* An allocation failed (cold path): count it; Lua may retry it after its emergency
   collection. */
static __attribute__((noinline, cold)) void *allocation_failed(Sandbox *b, void *block, size_t nsize) {
  b->s->failures++;
  b->failed = 1;
  b->failed_block = block;
  b->failed_size = nsize;
  return NULL;
}

/* realloc failed after the account was charged: take the charge back. */
static __attribute__((noinline, cold)) void *realloc_failed(Sandbox *b, void *block, size_t old, size_t nsize) {
  b->used = b->used - nsize + old;
  return allocation_failed(b, block, nsize);
}

/* The last allocation failed: a successful retry of it takes the failure back. */
static __attribute__((noinline, cold)) void *after_failure(Sandbox *b, void *block, size_t old, size_t nsize) {
  void *result = realloc(block, nsize);
  if (result == NULL) return allocation_failed(b, block, nsize);
  b->used = b->used - old + nsize;
  if (block == b->failed_block && nsize == b->failed_size) b->s->failures--;  /* Lua's retry */
  b->failed = 0;
  return result;
}

/* Lua frees the block holding the main thread (and its extra space) last, when the
   state closes: the Sandbox goes with it. */
static __attribute__((noinline, cold)) void *close_state(Sandbox *b, void *block) {
  free(block);
  free(b);
  return NULL;
}

static __attribute__((noinline)) void *free_block(Sandbox *b, void *block, size_t osize) {
  if (block != NULL) {
    if (luai_unlikely(block == lua_getextraspace(b->main))) return close_state(b, block);
    b->used -= osize;
    free(block);
  }
  return NULL;
}

static __attribute__((noinline)) void *alloc_block(Sandbox *b, void *block, size_t osize, size_t nsize) {
  size_t old = block != NULL ? osize : 0;  /* for a new block, osize tells its kind */
  size_t used = b->used - old + nsize;
  void *result;
  if (luai_unlikely(used > b->limit) && nsize > old) return allocation_failed(b, block, nsize);
  if (luai_unlikely(b->failed)) return after_failure(b, block, old, nsize);
  b->used = used;
  result = realloc(block, nsize);
  if (luai_unlikely(result == NULL)) return realloc_failed(b, block, old, nsize);
  return result;
}

/* The state's allocator: the memory account, the limit (SIZE_MAX: none in force) and the
   count of failures. Freeing and allocating are separate functions, so that each path
   saves no more registers than it needs. */
static void *sandbox_alloc(void *ud, void *block, size_t osize, size_t nsize) {
  if (nsize == 0) return free_block((Sandbox *)ud, block, osize);
  return alloc_block((Sandbox *)ud, block, osize, nsize);
}

/* True while thread L has a hook installed. */
int jido_hooked(lua_State *L) { return lua_gethook(L) != NULL; }

/* Where the hook first stopped the last run ("" if it did not). */
const char *jido_stopper_where(Stopper *s) { return s->where; }

static Sandbox *sandbox(lua_State *L) { return (Sandbox *)lua_touserdata(L, lua_upvalueindex(1)); }
static Stopper *stopper(lua_State *L) { return sandbox(L)->s; }

/* A protected call, resume, close or load that began when `failures` was `before`
   failed (Lua thread). */
static void failed(Stopper *s, unsigned before) {
  if (s->failures != before) jido_stopper_trip(s, REASON_MEMORY);
}

/* Thread `co` (the value at `index` of L's stack) is resumed or closed at depth `d`. */
static void enter(lua_State *L, Sandbox *b, lua_State *co, int index, int d) {
  Stopper *s = b->s;
  int armed;
  pthread_mutex_lock(&s->lock);
  armed = atomic_load(&s->armed);
  s->chain[d] = co;
  if (d > s->top) s->top = d;
  if (armed) arm(co);
  pthread_mutex_unlock(&s->lock);
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->entered);
  if (armed) {  /* the thread leaving the chain may be armed: release disarms it if it lives */
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->left);
    lua_rawgeti(L, -2, d);
    if (lua_type(L, -1) == LUA_TTHREAD) {
      lua_pushboolean(L, 1);
      lua_rawset(L, -3);  /* may fail for memory: the thread then stays in `entered` */
      lua_pop(L, 1);
    } else {
      lua_pop(L, 2);
    }
  }
  lua_pushvalue(L, index);  /* keep it referenced; the previous one may go */
  lua_rawseti(L, -2, d);    /* preallocated array slot: no allocation */
  lua_pop(L, 1);
}

/* -- coroutines (lcorolib.c, with the chain kept) -------------------------------- */

static lua_State *getco(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "thread");
  return co;
}

/* True when the coroutine at `index` of L was killed by the limit hook: its __close
   handlers would run with hooks off (Lua keeps them off in a thread killed from a hook),
   so it is never closed. */
static int stopped(lua_State *L, Sandbox *b, int index) {
  int stop;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->killed);
  lua_pushvalue(L, index);
  stop = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return stop;
}

/* `co` (at `index` of L) died of an error while a stop was under way: if it is the hook's
   own error, the hook killed it. */
static void note_killed(lua_State *L, Sandbox *b, lua_State *co, int index) {
  int killed;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STOPPED_KEY);
  killed = lua_topointer(co, -1) == lua_topointer(L, -1);  /* the very value */
  lua_pop(L, 1);
  if (!killed) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->killed);
  lua_pushvalue(L, index);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* Resume `co` (at `index` of L) with the `narg` values on top of L; as lcorolib's. */
static int auxresume(lua_State *L, Sandbox *b, lua_State *co, int index, int narg) {
  Stopper *s = b->s;
  int status, nres, d = s->depth + 1;
  unsigned before = s->failures;
  if (luai_unlikely(!lua_checkstack(co, narg))) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  if (luai_unlikely(d > MAX_DEPTH)) {
    lua_pushliteral(L, "C stack overflow");
    return -1;
  }
  if (s->chain[d] != co) enter(L, b, co, index, d);
  lua_xmove(L, co, narg);
  s->depth = d;
  status = lua_resume(co, L, narg, &nres);
  s->depth = d - 1;
  if (luai_likely(status == LUA_OK || status == LUA_YIELD)) {
    if (luai_unlikely(!lua_checkstack(L, nres + 1))) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  failed(s, before);
  if (atomic_load(&s->armed) && lua_gettop(co) > 0) note_killed(L, b, co, index);
  lua_xmove(co, L, 1);
  return -1;
}

static int co_resume(lua_State *L) {
  lua_State *co = getco(L);
  int r = auxresume(L, sandbox(L), co, 1, lua_gettop(L) - 1);
  if (luai_unlikely(r < 0)) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}


/* Close `co` (at `index` of L) at the next depth; returns its status. The error `co`
   died of was judged when it was raised: only a failure during the close counts here. */
static int closethread(lua_State *L, Sandbox *b, lua_State *co, int index) {
  Stopper *s = b->s;
  int status, d = s->depth + 1;
  unsigned before = s->failures;
  if (luai_unlikely(d > MAX_DEPTH)) return luaL_error(L, "C stack overflow");
  if (s->chain[d] != co) enter(L, b, co, index, d);
  s->depth = d;
  status = lua_closethread(co, L);
  s->depth = d - 1;
  if (status != LUA_OK) failed(s, before);
  return status;
}

static int auxwrap(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  Sandbox *b = (Sandbox *)lua_touserdata(L, lua_upvalueindex(2));
  int r = auxresume(L, b, co, lua_upvalueindex(1), lua_gettop(L));
  if (luai_unlikely(r < 0)) {
    int stat = lua_status(co);
    if (stat != LUA_OK && stat != LUA_YIELD && !stopped(L, b, lua_upvalueindex(1))) {
      stat = closethread(L, b, co, lua_upvalueindex(1));
      lua_xmove(co, L, 1);
    }
    if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, -2);
      lua_concat(L, 2);
    }
    return lua_error(L);
  }
  return r;
}

static int co_create(lua_State *L) {
  lua_State *NL;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  NL = lua_newthread(L);
  lua_sethook(NL, NULL, 0, 0);  /* the stop reaches it on entry, never by inheritance */
  lua_pushvalue(L, 1);
  lua_xmove(L, NL, 1);
  return 1;
}

static int co_wrap(lua_State *L) {
  co_create(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, auxwrap, 2);
  return 1;
}

enum { COS_RUN, COS_DEAD, COS_YIELD, COS_NORM };
static const char *const statname[] = {"running", "dead", "suspended", "normal"};

static int auxstatus(lua_State *L, lua_State *co) {
  if (L == co) return COS_RUN;
  switch (lua_status(co)) {
    case LUA_YIELD:
      return COS_YIELD;
    case LUA_OK: {
      lua_Debug ar;
      if (lua_getstack(co, 0, &ar)) return COS_NORM;
      if (lua_gettop(co) == 0) return COS_DEAD;
      return COS_YIELD;
    }
    default:
      return COS_DEAD;
  }
}

static int co_close(lua_State *L) {
  lua_State *co = getco(L);
  int status = auxstatus(L, co);
  switch (status) {
    case COS_DEAD:
    case COS_YIELD: {
      if (stopped(L, sandbox(L), 1)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, STOPPED);
        return 2;
      }
      status = closethread(L, sandbox(L), co, 1);
      if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        return 1;
      }
      lua_pushboolean(L, 0);
      lua_xmove(co, L, 1);
      return 2;
    }
    default:
      return luaL_error(L, "cannot close a %s coroutine", statname[status]);
  }
}

/* -- protected calls (lbaselib.c; a real allocation failure trips the memory limit) -- */

/* `context`: the number of results before the call's (0 or 2), and the allocation
   failures counted when it began. */
static lua_KContext context(lua_State *L, int extra) {
  return (lua_KContext)(((uintptr_t)stopper(L)->failures << 2) | (uintptr_t)extra);
}

static int finishpcall(lua_State *L, int status, lua_KContext ctx) {
  int extra = (int)(ctx & 3);
  if (luai_unlikely(status != LUA_OK && status != LUA_YIELD)) {
    failed(stopper(L), (unsigned)((uintptr_t)ctx >> 2));
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - extra;
}

static int b_pcall(lua_State *L) {
  int status;
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  lua_KContext ctx = context(L, 0);
  status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, ctx, finishpcall);
  return finishpcall(L, status, ctx);
}

/* The message handler xpcall installs: the cell's handler, except while a limit stops
   the run (the hook's error runs handlers with hooks off, where nothing could stop them). */
static int guard(lua_State *L) {
  Stopper *s = ((Sandbox *)lua_touserdata(L, lua_upvalueindex(2)))->s;
  if (atomic_load_explicit(&s->armed, memory_order_relaxed)) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* Upvalues: the stopper, the last handler seen and its guard (reused while it repeats). */
static int b_xpcall(lua_State *L) {
  int status, n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_rawequal(L, 2, lua_upvalueindex(2))) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, guard, 2);
    lua_pushvalue(L, 2);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushvalue(L, -1);
    lua_replace(L, lua_upvalueindex(3));
  } else {
    lua_pushvalue(L, lua_upvalueindex(3));
  }
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  lua_KContext ctx = context(L, 2);
  status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, ctx, finishpcall);
  return finishpcall(L, status, ctx);
}

/* -- load (lbaselib.c): text chunks only, in the cells' environment by default ------- */

static const char BINARY[] = "attempt to load a binary chunk (the sandbox loads text chunks only)";
enum { RESERVEDSLOT = 5 };

static const char *generic_reader(lua_State *L, void *ud, size_t *size) {
  (void)ud;
  luaL_checkstack(L, 2, "too many nested functions");
  lua_pushvalue(L, 1);
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    *size = 0;
    return NULL;
  }
  if (luai_unlikely(!lua_isstring(L, -1))) luaL_error(L, "reader function must return a string");
  lua_replace(L, RESERVEDSLOT);
  return lua_tolstring(L, RESERVEDSLOT, size);
}

/* lua_load from the reader at 1 (chunk name and mode at 2 and 3), called through a
   protected call with no message handler: the reader's errors reach load's caller as
   raised, not as the handler of the cell's own protected call (the kernel's) made them.
   Returns the chunk or the error, and lua_load's status. */
static int load_from_reader(lua_State *L) {
  const char *chunkname = lua_tostring(L, 2), *mode = lua_tostring(L, 3);
  lua_settop(L, RESERVEDSLOT);
  lua_pushinteger(L, lua_load(L, generic_reader, NULL, chunkname, mode));
  return 2;
}

/* Upvalues: the cells' environment, the stopper. A mode that allows binary chunks ("b", and the
   default "bt") is used without its "b", and a binary chunk gets BINARY as its error;
   otherwise the mode is used as given, with stock Lua's messages. */
static int b_load(lua_State *L) {
  Stopper *stop = ((Sandbox *)lua_touserdata(L, lua_upvalueindex(2)))->s;
  unsigned before = stop->failures;
  int status, env = !lua_isnone(L, 4) ? 4 : lua_upvalueindex(1);
  size_t l;
  const char *s = lua_tolstring(L, 1, &l);
  const char *given = luaL_optstring(L, 3, "bt");
  const char *mode = given;
  int binary = strchr(given, 'b') != NULL;
  if (binary) mode = strchr(given, 't') != NULL ? "t" : "";
  if (s != NULL) {
    const char *chunkname = luaL_optstring(L, 2, s);
    if (binary && l > 0 && s[0] == LUA_SIGNATURE[0]) {
      luaL_pushfail(L);
      lua_pushstring(L, BINARY);
      return 2;
    }
    status = luaL_loadbufferx(L, s, l, chunkname, mode);
  } else {
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushcfunction(L, load_from_reader);
    lua_pushvalue(L, 1);
    lua_pushstring(L, chunkname);
    lua_pushstring(L, mode);
    status = lua_pcall(L, 3, 2, 0);
    if (status == LUA_OK) {
      status = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  }
  if (status == LUA_OK) {
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    return 1;
  }
  failed(stop, before);
  if (binary && status == LUA_ERRSYNTAX) {  /* the mode's own message, for the mode given */
    char expected[64];
    const char *message = lua_tostring(L, -1);
    snprintf(expected, sizeof expected, "attempt to load a binary chunk (mode is '%s')", mode);
    if (message != NULL && strcmp(message, expected) == 0) {
      lua_pop(L, 1);
      lua_pushstring(L, BINARY);
    } else {
      snprintf(expected, sizeof expected, "attempt to load a text chunk (mode is '%s')", mode);
      if (message != NULL && strcmp(message, expected) == 0) {
        lua_pop(L, 1);
        lua_pushstring(L, "attempt to load a text chunk (mode is '");
        lua_pushstring(L, given);
        lua_pushstring(L, "')");
        lua_concat(L, 3);
      }
    }
  }
  luaL_pushfail(L);
  lua_insert(L, -2);
  return 2;
}

/* loader(env): the sandbox's load, with `env` as its default environment. */
static int loader(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, b_load, 2);
  return 1;
}

/* -- collectgarbage: stock, without the options that change how the collector runs -- */

static int b_collectgarbage(lua_State *L) {
  static const char *const opts[] = {"stop", "restart", "collect", "count", "step", "setpause",
                                     "setstepmul", "isrunning", "generational", "incremental", NULL};
  static const int optsnum[] = {LUA_GCSTOP, LUA_GCRESTART, LUA_GCCOLLECT, LUA_GCCOUNT,
                                LUA_GCSTEP, LUA_GCSETPAUSE, LUA_GCSETSTEPMUL, LUA_GCISRUNNING,
                                LUA_GCGEN, LUA_GCINC};
  int option = luaL_checkoption(L, 1, "collect", opts), o = optsnum[option], res;
  switch (o) {
    case LUA_GCCOUNT: {
      int k = lua_gc(L, o), b = lua_gc(L, LUA_GCCOUNTB);
      if (k == -1) break;
      lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
      return 1;
    }
    case LUA_GCSTEP:
      res = lua_gc(L, o, (int)luaL_optinteger(L, 2, 0));
      if (res == -1) break;
      lua_pushboolean(L, res);
      return 1;
    case LUA_GCISRUNNING:
      res = lua_gc(L, o);
      if (res == -1) break;
      lua_pushboolean(L, res);
      return 1;
    case LUA_GCCOLLECT:
      res = lua_gc(L, o);
      if (res == -1) break;
      lua_pushinteger(L, res);
      return 1;
    default:
      return luaL_error(L, "collectgarbage: option \"%s\" is not available in the sandbox "
                           "(use \"collect\", \"count\", \"step\" or \"isrunning\")", opts[option]);
  }
  luaL_pushfail(L);
  return 1;
}

/* -- print: stock, writing one line through the worker (upvalue: its emit function) -- */

static int b_print(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  lua_pushvalue(L, lua_upvalueindex(1));
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');  /* before the value: the buffer's box is on top */
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  lua_call(L, 1, 0);
  return 0;
}

/* printer(emit): the sandbox's print, writing through `emit`. */
static int printer(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, b_print, 1);
  return 1;
}

/* -- setmetatable: stock, but no finalizers (they run where limits cannot stop them) -- */

static int b_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "setmetatable: metatables with a __gc field are not allowed in the "
                           "sandbox (finalizers run where time limits cannot stop them)");
    lua_pop(L, 1);
  }
  if (luai_unlikely(luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL))
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* Push a new table with weak keys. */
static void weak_set(lua_State *L) {
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}

/* After a run (upvalues: the Sandbox and xpcall): disarm every thread the stop may have
   armed, forget the run's threads so they may be collected, and drop xpcall's handler. */
static int release(lua_State *L) {
  Sandbox *b = sandbox(L);
  Stopper *s = b->s;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->entered);
  for (int d = 1; d <= s->top; d++) {  /* the run entered no deeper */
    lua_rawgeti(L, -1, d);
    if (lua_type(L, -1) == LUA_TTHREAD) lua_sethook(lua_tothread(L, -1), NULL, 0, 0);
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, d);
  }
  lua_pop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->left);
  lua_pushnil(L);
  while (lua_next(L, -2)) {  /* no entry is added while this runs */
    lua_pop(L, 1);
    lua_sethook(lua_tothread(L, -1), NULL, 0, 0);
  }
  lua_pop(L, 1);
  weak_set(L);  /* a fresh set: clearing in a traversal is not allowed */
  lua_rawseti(L, LUA_REGISTRYINDEX, b->left);
  for (int n = 2; n <= 3; n++) {
    lua_pushboolean(L, 0);
    lua_setupvalue(L, lua_upvalueindex(2), n);
  }
  return 0;
}

/* -- the memory limit ------------------------------------------------------------- */

/* limit_on(): the limit holds (a cell runs); lift(): it does not (Python builds values). */
static int limit_on(lua_State *L) {
  Sandbox *b = sandbox(L);
  b->limit = b->base + b->max;
  return 0;
}

static int lift(lua_State *L) {
  sandbox(L)->limit = SIZE_MAX;
  return 0;
}

/* The cells may use `max` bytes beyond what the state held when installed (from Python,
   between runs). */
void jido_memory_max(Sandbox *b, size_t max) { b->max = max; }

/* The limit in force (1) or lifted (0), from Python between runs. */
void jido_memory_limit(Sandbox *b, int on) { b->limit = on ? b->base + b->max : SIZE_MAX; }

/* Bytes the state holds beyond what it held when installed. */
size_t jido_memory_used(Sandbox *b) { return b->used > b->base ? b->used - b->base : 0; }

/* -- installation ------------------------------------------------------------------ */

static int open_native(lua_State *L) {
  Sandbox *b = (Sandbox *)lua_touserdata(L, 1);
  static const struct {
    const char *name;
    lua_CFunction f;
    int upvalues;
  } functions[] = {
      {"create", co_create, 0},   {"resume", co_resume, 1},  {"wrap", co_wrap, 1},
      {"close", co_close, 1},     {"pcall", b_pcall, 1},     {"xpcall", b_xpcall, 3},
      {"setmetatable", b_setmetatable, 0}, {"loader", loader, 1},
      {"collectgarbage", b_collectgarbage, 0}, {"printer", printer, 0},
      {"limit_on", limit_on, 1},  {"lift", lift, 1},
  };
  lua_pushstring(L, STOPPED);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &STOPPED_KEY);
  lua_pushlightuserdata(L, b);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &STOPPER_KEY);
  lua_createtable(L, MAX_DEPTH, 0);
  for (int d = 1; d <= MAX_DEPTH; d++) {
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, d);
  }
  b->entered = luaL_ref(L, LUA_REGISTRYINDEX);
  weak_set(L);
  b->left = luaL_ref(L, LUA_REGISTRYINDEX);
  weak_set(L);
  b->killed = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, (int)(sizeof functions / sizeof functions[0]));
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    lua_pushlightuserdata(L, b);
    lua_pushboolean(L, 0);  /* xpcall: no handler seen yet */
    lua_pushboolean(L, 0);
    lua_settop(L, lua_gettop(L) - 3 + functions[i].upvalues);
    lua_pushcclosure(L, functions[i].f, functions[i].upvalues);
    lua_setfield(L, -2, functions[i].name);
  }
  lua_pushlightuserdata(L, b);
  lua_getfield(L, -2, "xpcall");
  lua_pushcclosure(L, release, 2);
  lua_setfield(L, -2, "release");
  lua_setglobal(L, "jido_native");
  /* Last, as nothing can fail after it: from here on the state allocates through
     sandbox_alloc (every block so far came from malloc, as it frees them). */
  b->used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
  b->base = b->used;
  b->limit = SIZE_MAX;
  lua_setallocf(L, sandbox_alloc, b);
  return 0;
}

/* Install the functions for the state whose main thread is L (called with no Lua code
   running): global `jido_native` becomes their table. Returns the state's Sandbox, or
   NULL when that failed. */
Sandbox *jido_install(lua_State *L, Stopper *s) {
  int status;
  Sandbox *b;
  if (lua_version(L) != LUA_VERSION_NUM || !lua_checkstack(L, 2)) return NULL;
  b = calloc(1, sizeof(Sandbox));
  if (b == NULL) return NULL;
  b->s = s;
  b->main = L;
  lua_pushcfunction(L, open_native);
  lua_pushlightuserdata(L, b);
  status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK) {  /* the allocator was not replaced: nothing holds `b` */
    lua_pop(L, 1);
    free(b);
    return NULL;
  }
  return b;
}
