/* The one table of portable kernels, one row per op, generated from the kprepare/krun columns of
 * ir/ops.def: an op without its kernel functions fails the link. Looked up by program op name. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel_util.h"

/* ir/ops.def is the op list the toolchain and the programs it writes share; only its name
 * and kernel columns are read here (data only: the runtime links no IR code). */
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) \
  KPREPARE(kprepare);                                                                     \
  KRUN(krun);
#include "../../ir/ops.def"
#undef XNND_OP

#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) {name, xnnd_kprepare_##kprepare, xnnd_krun_##krun},
static const xnnd_kernel kernel_table[] = {
#include "../../ir/ops.def"
};
#undef XNND_OP

/* Prepare time only (method creation), never on the execute path. */
const xnnd_kernel* xnnd_kernel_find(const char* op) {
  if (!op) return NULL;
  for (size_t i = 0; i < sizeof(kernel_table) / sizeof(kernel_table[0]); i++)
    if (strcmp(kernel_table[i].op, op) == 0) return &kernel_table[i];
  return NULL;
}

const xnnd_kattr* xnnd_kattr_get(const xnnd_kernel_args* args, const char* name) {
  if (!args || !name || !args->attrs) return NULL;
  for (uint32_t i = 0; i < args->num_attrs; i++)
    if (args->attrs[i].name && strcmp(args->attrs[i].name, name) == 0) return &args->attrs[i];
  return NULL;
}
