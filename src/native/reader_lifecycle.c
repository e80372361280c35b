// Reader lifetime. Two owners must both let go before the struct is freed: libuv (the poll
// handle's close callback) and the JS wrapper (its finalizer). close() and the finalizer share
// reader_release_js, so neither path can leave a reference into JS behind.

#include "reader.h"
#include "fastpath.h"

#include <pthread.h>
#include <stdlib.h>

// libuv malfunctions when two poll handles watch one fd on one loop, so refuse it up front.
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static reader_t *registry = NULL;

bool registry_add(reader_t *r) {
  pthread_mutex_lock(&registry_mu);
  for (reader_t *p = registry; p; p = p->next) {
    if (p->fd == r->fd && p->loop == r->loop) {
      pthread_mutex_unlock(&registry_mu);
      return false;
    }
  }
  r->next = registry;
  registry = r;
  pthread_mutex_unlock(&registry_mu);
  return true;
}

void registry_remove(reader_t *r) {
  pthread_mutex_lock(&registry_mu);
  for (reader_t **pp = &registry; *pp; pp = &(*pp)->next) {
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  }
  r->next = NULL;
  pthread_mutex_unlock(&registry_mu);
}

void reader_free(reader_t *r) {
  free(r->msgs);
  free(r->iov);
  free(r->sas);
  free(r->ctrl);
  free(r);
}

static void reader_on_close(uv_handle_t *h) {
  reader_t *r = h->data;
  r->handle_closed = true;
  if (r->finalized) reader_free(r);
}

// Safe from any context on the loop thread: touches no JS.
void reader_stop(reader_t *r) {
  if (r->closing) return;
  r->closing = true;
  registry_remove(r);
  if (r->poll_inited) {
    uv_poll_stop(&r->poll);
    uv_close((uv_handle_t *)&r->poll, reader_on_close);
  } else {
    r->handle_closed = true;
  }
}

void reader_env_cleanup(void *arg) {
  reader_t *r = arg;
  r->hook_added = false;
  reader_stop(r);
}

// Stop polling and drop every reference the reader holds into JS (callback and the views).
void reader_release_js(napi_env env, reader_t *r) {
  fast_out_free(env, r);
  fast_in_free(env, r);
  if (r->hook_added) {
    napi_remove_env_cleanup_hook(env, reader_env_cleanup, r);
    r->hook_added = false;
  }
  reader_stop(r);
  delete_ref(env, &r->cb_ref);
  delete_ref(env, &r->data_ref);
  delete_ref(env, &r->lens_ref);
  delete_ref(env, &r->addrs_ref);
  delete_ref(env, &r->ports_ref);
  delete_ref(env, &r->tos_ref);
  delete_ref(env, &r->gso_ref);
  delete_ref(env, &r->addrs6_ref);
}

void reader_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  reader_t *r = data;
  reader_release_js(env, r);
  delete_ref(env, &r->self_ref);
  r->finalized = true;
  if (r->handle_closed) reader_free(r);
}

