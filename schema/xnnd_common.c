/* Status strings and dtype facts shared by the runtime and the toolchain. */
#include "xnnd/xnnd.h"

const char* xnnd_status_str(xnnd_status status) {
  switch (status) {
#define XNND_STATUS(name, value, desc) \
  case XNND_##name:                    \
    return desc;
#include "xnnd/status.def"
#undef XNND_STATUS
  }
  return "unknown status";
}

static const struct {
  const char* name;
  size_t size;
} dtype_facts[XNND_DTYPE_COUNT] = {
    [XNND_F32] = {"f32", 4}, [XNND_F16] = {"f16", 2}, [XNND_I8] = {"i8", 1},
    [XNND_U8] = {"u8", 1},   [XNND_I32] = {"i32", 4}, [XNND_I64] = {"i64", 8},
    [XNND_BOOL] = {"bool", 1},
};

size_t xnnd_dtype_size(xnnd_dtype dtype) {
  return (unsigned)dtype < XNND_DTYPE_COUNT ? dtype_facts[dtype].size : 0;
}

const char* xnnd_dtype_name(xnnd_dtype dtype) {
  return (unsigned)dtype < XNND_DTYPE_COUNT ? dtype_facts[dtype].name : "?";
}

size_t xnnd_tensor_numel(const xnnd_tensor* t) {
  if (!t) return 0;
  size_t n = 1;
  for (uint32_t i = 0; i < t->rank && i < XNND_MAX_RANK; i++) n *= (size_t)t->dims[i];
  return n;
}
