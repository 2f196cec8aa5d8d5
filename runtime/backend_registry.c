/* Backends by name: a static table of built-ins (XNNPACK) consulted first, then a fixed-size
 * table of backends registered by the application. Not thread-safe to register; lookups
 * only read. */
#include <stdio.h>
#include <string.h>

#include "backends/xnnpack/xnnpack_backend.h"
#include "runtime_internal.h"

typedef const xnnd_backend* (*builtin_getter)(void);

/* NULL-terminated. */
static const builtin_getter builtins[] = {
    xnnd_xnnpack_backend_get,
    NULL,
};

#define MAX_REGISTERED 16
static const xnnd_backend* registered[MAX_REGISTERED];
static uint32_t num_registered;

xnnd_status xnnd_backend_register(const xnnd_backend* backend) {
  if (!backend || !backend->name || !backend->name[0] || !backend->init || !backend->execute ||
      !backend->destroy)
    return XNND_INVALID_ARGUMENT;
  if (xnnd_backend_find(backend->name)) return XNND_INVALID_STATE;  /* name taken */
  if (num_registered == MAX_REGISTERED) return XNND_LIMIT_EXCEEDED;
  registered[num_registered++] = backend;
  return XNND_OK;
}

const xnnd_backend* xnnd_backend_find(const char* name) {
  if (!name) return NULL;
  for (const builtin_getter* g = builtins; *g; g++) {
    const xnnd_backend* b = (*g)();
    if (b && b->name && strcmp(b->name, name) == 0) return b;
  }
  for (uint32_t i = 0; i < num_registered; i++)
    if (strcmp(registered[i]->name, name) == 0) return registered[i];
  return NULL;
}

void xnnd_backend_names(char* buf, size_t size) {
  if (size == 0) return;
  buf[0] = '\0';
  size_t n = 0;
  const char* sep = "";
  for (const builtin_getter* g = builtins; *g && n < size; g++) {
    const xnnd_backend* b = (*g)();
    if (!b || !b->name) continue;
    n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, b->name);
    sep = ", ";
  }
  for (uint32_t i = 0; i < num_registered && n < size; i++) {
    n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, registered[i]->name);
    sep = ", ";
  }
}
