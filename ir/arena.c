/* Graph-owned bump allocator: names, node input arrays, quant arrays and constant data.
 * Nothing is freed individually; the whole arena goes with the graph. */
#include <stdlib.h>

#include "ir_internal.h"

#define ARENA_BLOCK_SIZE ((size_t)64 * 1024)
#define ARENA_MAX_ALIGN ((size_t)64)

typedef struct arena_block {
  struct arena_block* next;
  size_t size;  /* bytes in data[] */
  size_t used;
  unsigned char data[];
} arena_block;

struct xnnd_arena {
  arena_block* head;   /* current block for small allocations */
  arena_block* large;  /* dedicated blocks for big allocations */
};

struct xnnd_arena* ir_arena_create(void) { return calloc(1, sizeof(struct xnnd_arena)); }

static void free_chain(arena_block* b) {
  while (b) {
    arena_block* next = b->next;
    free(b);
    b = next;
  }
}

void ir_arena_destroy(struct xnnd_arena* a) {
  if (!a) return;
  free_chain(a->head);
  free_chain(a->large);
  free(a);
}

static arena_block* new_block(size_t size) {
  if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
  arena_block* b = malloc(sizeof(arena_block) + size);
  if (!b) return NULL;
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

/* Offset of the first `align`-aligned byte at or after data + used. */
static size_t aligned_offset(const arena_block* b, size_t align) {
  uintptr_t p = (uintptr_t)(b->data + b->used);
  uintptr_t q = (p + (align - 1)) & ~(uintptr_t)(align - 1);
  return b->used + (size_t)(q - p);
}

void* ir_arena_alloc(struct xnnd_arena* a, size_t size, size_t align) {
  if (!a || align == 0 || align > ARENA_MAX_ALIGN || (align & (align - 1)) != 0) return NULL;
  if (size > SIZE_MAX - ARENA_MAX_ALIGN - sizeof(arena_block)) return NULL;
  if (size + align > ARENA_BLOCK_SIZE / 4) {
    arena_block* b = new_block(size + align);
    if (!b) return NULL;
    b->next = a->large;
    a->large = b;
    size_t off = aligned_offset(b, align);
    b->used = off + size;
    return b->data + off;
  }
  if (a->head) {
    size_t off = aligned_offset(a->head, align);
    if (off + size <= a->head->size) {
      a->head->used = off + size;
      return a->head->data + off;
    }
  }
  arena_block* b = new_block(ARENA_BLOCK_SIZE);
  if (!b) return NULL;
  b->next = a->head;
  a->head = b;
  size_t off = aligned_offset(b, align);
  b->used = off + size;
  return b->data + off;
}
