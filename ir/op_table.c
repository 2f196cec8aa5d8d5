/* The op table, built from ops.def: name, arity, attribute schema, shape inference, the
 * optional-input mask and category flags. Adding a row to ops.def breaks the build here until
 * the schema/inference for its attrs name exist. */
#include <string.h>

#include "ir_internal.h"

static const xnnd_op_info op_table[] = {
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) \
  [XNND_OP_##id] = {name, min_in, max_in, n_out, num_attrs, xnnd_attrs_##attrs, xnnd_infer_##attrs, optional, flags},
#include "ops.def"
#undef XNND_OP
};
_Static_assert(IR_ARRAY_LEN(op_table) == XNND_OP_COUNT, "op table must cover every op");

const xnnd_op_info* xnnd_op_get(xnnd_op op) {
  return (unsigned)op < XNND_OP_COUNT ? &op_table[op] : NULL;
}

xnnd_op xnnd_op_lookup(const char* name) {
  if (!name) return XNND_OP_COUNT;
  for (uint32_t op = 0; op < XNND_OP_COUNT; op++)
    if (strcmp(op_table[op].name, name) == 0) return (xnnd_op)op;
  return XNND_OP_COUNT;
}

int xnnd_op_attr_index(xnnd_op op, const char* name) {
  const xnnd_op_info* info = xnnd_op_get(op);
  if (!info || !name) return -1;
  for (uint32_t a = 0; a < info->num_attrs; a++)
    if (strcmp(info->attrs[a].name, name) == 0) return (int)a;
  return -1;
}

bool xnnd_op_has(xnnd_op op, uint32_t flags) {
  return (unsigned)op < XNND_OP_COUNT && (op_table[op].flags & flags) == flags;
}

uint32_t ir_op_optional_inputs(xnnd_op op) {
  return (unsigned)op < XNND_OP_COUNT ? op_table[op].optional_inputs : 0;
}

static const char* kind_name(xnnd_attr_kind k) {
  switch (k) {
    case XNND_ATTR_NONE: return "none";
    case XNND_ATTR_INT: return "int";
    case XNND_ATTR_FLOAT: return "float";
    case XNND_ATTR_BOOL: return "bool";
    case XNND_ATTR_INTS: return "ints";
  }
  return "invalid";
}

xnnd_status ir_check_attr_kinds(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_op_info* info = xnnd_op_get(n->op);
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
    const xnnd_attr* at = &n->attrs[a];
    if (a >= info->num_attrs) {
      if (at->kind != XNND_ATTR_NONE)
        return ir_attr_error(g, node, "attribute slot %u is set but %s has %u attributes", a,
                             info->name, info->num_attrs);
      continue;
    }
    const xnnd_attr_spec* spec = &info->attrs[a];
    if (at->kind == XNND_ATTR_NONE) {
      if (!spec->optional) return ir_attr_error(g, node, "attribute %s is required", spec->name);
      continue;
    }
    if (at->kind != spec->kind)
      return ir_attr_error(g, node, "attribute %s is %s, expected %s", spec->name,
                           kind_name(at->kind), kind_name(spec->kind));
    if (at->kind == XNND_ATTR_INTS && at->n > XNND_MAX_ATTR_INTS)
      return ir_attr_error(g, node, "attribute %s has %u values, at most %d", spec->name, at->n,
                           XNND_MAX_ATTR_INTS);
    if (at->kind == XNND_ATTR_BOOL && at->i != 0 && at->i != 1)
      return ir_attr_error(g, node, "attribute %s is bool but holds %lld", spec->name,
                           (long long)at->i);
  }
  return XNND_OK;
}
