/* Per-CPU choice between xnnd's own convolution kernels and XNNPACK's (kernel_choice.c). */
#ifndef XNND_RUNTIME_XNNPACK_KERNEL_CHOICE_H
#define XNND_RUNTIME_XNNPACK_KERNEL_CHOICE_H

#include "xnnpack_internal.h"

/* Backend option own_kernels. */
typedef enum xnnd_own_policy {
  XNND_OWN_AUTO,  /* measured per shape on this CPU (default) */
  XNND_OWN_ON,    /* every node an own kernel takes */
  XNND_OWN_OFF,   /* none */
} xnnd_own_policy;

typedef struct xnnd_choice_ctx {
  const xnnd_allocator* allocator;
  pthreadpool_t pool;  /* the delegate's (NULL: one thread) */
  uint32_t threads;
  uint32_t flags;      /* XNND_XOWN_* for create */
  xnnd_own_policy policy;
} xnnd_choice_ctx;

/* The decision for one node of a type xnnd_xown_kind_get knows. */
typedef struct xnnd_kernel_choice {
  uint32_t node;
  bool own;
  bool cached;              /* the timings came from this process's cache */
  const char* why;          /* static text */
  uint64_t own_ns, xnn_ns;  /* best times, 0 when not measured */
  char text[64];            /* what the node computes */
  xnnd_xown made;           /* the own kernel when created (kernel NULL otherwise); the caller
                               takes it or releases it */
} xnnd_kernel_choice;

/* Decides node i (whose type has an own kind). Allocates; times kernels under auto. */
xnnd_status xnnd_kernel_choose(const xnnd_choice_ctx* ctx, const xnnd_xblob* blob, uint32_t i,
                               xnnd_kernel_choice* choice, char* err, size_t err_size);
/* Destroys choice->made unless taken (kernel set to NULL). */
void xnnd_kernel_choice_release(const xnnd_allocator* allocator, xnnd_kernel_choice* choice);
/* The table `xnnd run --profile` and `xnnd inspect --kernels` print; returns the length it
 * needed (like snprintf). */
size_t xnnd_kernel_choice_format(const xnnd_choice_ctx* ctx, const xnnd_kernel_choice* choices, uint32_t n,
                                 char* buf, size_t size);
/* Forget every cached timing (tests). */
void xnnd_kernel_choice_cache_clear(void);

#endif
