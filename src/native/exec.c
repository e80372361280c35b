// execSelf: replace this process with node itself, run with extra options. The daemon needs
// V8 heap options that only take effect on the command line (see cli/node-cmd.ts); execve keeps
// the pid, so whoever started the daemon still supervises the same process.

#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_ARGS 256
#define MAX_ARG_LEN 4096

// execSelf(argv: string[]): returns only when execve failed (it throws then).
napi_value js_exec_self(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool is_arr = false;
  uint32_t n = 0;
  if (!get_args(env, info, 1, argv, NULL, NULL)) return NULL;
  if (napi_is_array(env, argv[0], &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, argv[0], &n) != napi_ok ||
      n < 1 || n > MAX_ARGS) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argv must be an array of 1..256 strings");
    return NULL;
  }
  char *args[MAX_ARGS + 1];
  memset(args, 0, sizeof args);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    size_t len = 0;
    napi_valuetype t;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || napi_typeof(env, el, &t) != napi_ok || t != napi_string ||
        napi_get_value_string_utf8(env, el, NULL, 0, &len) != napi_ok || len >= MAX_ARG_LEN) {
      for (uint32_t k = 0; k < i; k++) free(args[k]);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argv must hold strings shorter than 4096 bytes");
      return NULL;
    }
    args[i] = malloc(len + 1);
    if (args[i] == NULL) {
      for (uint32_t k = 0; k < i; k++) free(args[k]);
      throw_errno(env, "malloc", "execSelf", ENOMEM);
      return NULL;
    }
    napi_get_value_string_utf8(env, el, args[i], len + 1, &len);
  }
  // Node marks its stdio close-on-exec; the new image must keep writing where this one did (the
  // daemon's log is its stderr), so clear the flag on 0..2 first.
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC)) (void)fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  execve("/proc/self/exe", args, environ);
  int e = errno;
  for (uint32_t k = 0; k < n; k++) free(args[k]);
  throw_errno(env, "execve", "/proc/self/exe", e);
  return NULL;
}
