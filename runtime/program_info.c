/* Read-only queries over a verified program (program_info.h); indexes are checked here,
 * everything else was verified at load. */
#include "program_info.h"

#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

static const xnnd_method_decl* method_at(const xnnd_program* p, uint32_t method) {
  return p && method < p->num_methods ? &p->methods[method] : NULL;
}

xnnd_status xnnd_program_get_info(const xnnd_program* program, xnnd_program_info* info_out) {
  if (!program || !info_out) return XNND_INVALID_ARGUMENT;
  *info_out = (xnnd_program_info){
      .executorch = program->format == XNND_FORMAT_EXECUTORCH,
      .version = program->header.version,
      .file_size = program->loader.size,
      .program_size = program->header.program_size,
      .constant_segment_size = program->header.constant_size,
      .delegate_segment_size = program->header.delegate_size,
      .num_methods = program->num_methods,
      .num_constants = program->num_constants,
      .num_delegates = program->num_delegates,
  };
  return XNND_OK;
}

xnnd_status xnnd_program_get_method_info(const xnnd_program* program, uint32_t method,
                                         xnnd_method_info* info_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || !info_out) return XNND_INVALID_ARGUMENT;
  memset(info_out, 0, sizeof(*info_out));
  info_out->name = m->name;
  info_out->num_values = m->num_values;
  info_out->num_inputs = m->num_inputs;
  info_out->num_outputs = m->num_outputs;
  info_out->num_steps = m->num_steps;
  for (uint32_t s = 0; s < m->num_steps; s++) {
    if (m->steps[s].kind == XNND_STEP_KERNEL) info_out->num_kernel_steps++;
    else info_out->num_delegate_steps++;
  }
  for (uint32_t v = 0; v < m->num_values; v++) {
    if (m->values[v].constant < 0) continue;
    info_out->num_constant_values++;
    info_out->constant_bytes += m->values[v].nbytes;
  }
  info_out->arena_bytes = m->arena_bytes;
  info_out->tensor_bytes = m->tensor_bytes;
  info_out->planned_at_lowering = m->planned_at_lowering;
  info_out->num_symbols = m->num_syms;
  return XNND_OK;
}

xnnd_status xnnd_program_get_step_info(const xnnd_program* program, uint32_t method,
                                       uint32_t step, xnnd_step_info* info_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || !info_out || step >= m->num_steps) return XNND_INVALID_ARGUMENT;
  const xnnd_step_decl* st = &m->steps[step];
  memset(info_out, 0, sizeof(*info_out));
  info_out->num_inputs = st->num_inputs;
  info_out->num_outputs = st->num_outputs;
  info_out->num_attrs = st->num_attrs;
  if (st->kind == XNND_STEP_KERNEL) {
    info_out->kind = XNND_STEP_INFO_KERNEL;
    info_out->op_name = st->op_name;
  } else {
    const xnnd_delegate_decl* d = &program->delegates[st->index];
    info_out->kind = XNND_STEP_INFO_DELEGATE;
    info_out->delegate_index = st->index;
    info_out->backend_name = d->backend_name;
    info_out->blob_size = d->size;
  }
  return XNND_OK;
}

xnnd_status xnnd_program_get_delegate_info(const xnnd_program* program, uint32_t delegate,
                                           xnnd_delegate_info* info_out) {
  if (!program || !info_out || delegate >= program->num_delegates) return XNND_INVALID_ARGUMENT;
  const xnnd_delegate_decl* d = &program->delegates[delegate];
  *info_out = (xnnd_delegate_info){d->backend_name, d->offset, d->size, d->num_specs};
  return XNND_OK;
}

xnnd_status xnnd_program_get_value_info(const xnnd_program* program, uint32_t method,
                                        uint32_t value, xnnd_tensor* type_out,
                                        int32_t* constant_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || !type_out || value >= m->num_values) return XNND_INVALID_ARGUMENT;
  *type_out = m->values[value].type;
  if (constant_out) *constant_out = m->values[value].constant;
  return XNND_OK;
}

xnnd_status xnnd_program_get_method_io(const xnnd_program* program, uint32_t method,
                                       uint32_t index, int is_output, uint32_t* value_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || !value_out) return XNND_INVALID_ARGUMENT;
  if (is_output) {
    if (index >= m->num_outputs) return XNND_INVALID_ARGUMENT;
    *value_out = m->outputs[index].value;
  } else {
    if (index >= m->num_inputs) return XNND_INVALID_ARGUMENT;
    *value_out = m->inputs[index];
  }
  return XNND_OK;
}

xnnd_status xnnd_program_get_step_operand(const xnnd_program* program, uint32_t method,
                                          uint32_t step, uint32_t index, int is_output,
                                          int32_t* value_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || !value_out || step >= m->num_steps) return XNND_INVALID_ARGUMENT;
  const xnnd_step_decl* st = &m->steps[step];
  if (is_output) {
    if (index >= st->num_outputs) return XNND_INVALID_ARGUMENT;
    *value_out = (int32_t)st->outputs[index];
  } else {
    if (index >= st->num_inputs) return XNND_INVALID_ARGUMENT;
    *value_out = st->inputs[index];
  }
  return XNND_OK;
}

size_t xnnd_format_sym_type(char* buf, size_t size, const xnnd_value_decl* v,
                            const xnnd_method_decl* m) {
  char tmp[XNND_MAX_RANK * 100 + 16];
  size_t n = (size_t)snprintf(tmp, sizeof(tmp), "%s[", xnnd_dtype_name(v->type.dtype));
  for (uint32_t d = 0; d < v->type.rank && n < sizeof(tmp); d++) {
    if (d) tmp[n++] = ',';
    if (v->dimx)
      n += xnnd_dimx_print(tmp + n, sizeof(tmp) - n, &v->dimx[d], m->syms, m->num_syms);
    else
      n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%lld", (long long)v->type.dims[d]);
  }
  if (n < sizeof(tmp)) n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "]");
  if (n >= sizeof(tmp)) n = sizeof(tmp) - 1;
  if (buf && size > 0) snprintf(buf, size, "%s", tmp);
  return n;
}

xnnd_status xnnd_program_get_symbol(const xnnd_program* program, uint32_t method,
                                    uint32_t index, const char** name_out, int64_t* min_out,
                                    int64_t* max_out) {
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || index >= m->num_syms || !name_out || !min_out || !max_out) return XNND_INVALID_ARGUMENT;
  *name_out = m->syms[index].name;
  *min_out = m->syms[index].min;
  *max_out = m->syms[index].max;
  return XNND_OK;
}

size_t xnnd_program_format_value_type(const xnnd_program* program, uint32_t method,
                                      uint32_t value, char* buf, size_t size) {
  if (buf && size > 0) buf[0] = '\0';
  const xnnd_method_decl* m = method_at(program, method);
  if (!m || value >= m->num_values) return 0;
  return xnnd_format_sym_type(buf, size, &m->values[value], m);
}
