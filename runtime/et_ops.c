/* The ExecuTorch operator table (et_ops.h), generated into et_ops_table.inc. */
#include "et_ops.h"

#include <string.h>

#include "et_ops_table.inc"

const et_op_desc* xnnd_et_op_find(const char* name, const char* overload) {
  size_t nlen = strlen(name), olen = strlen(overload);
  for (size_t i = 0; i < sizeof(et_op_table) / sizeof(et_op_table[0]); i++) {
    const char* full = et_op_table[i].name;
    if (strncmp(full, name, nlen) == 0 && full[nlen] == '.' &&
        strcmp(full + nlen + 1, overload) == 0)
      return &et_op_table[i];
    if (olen == 0 && strcmp(full, name) == 0) return &et_op_table[i];
  }
  return NULL;
}
