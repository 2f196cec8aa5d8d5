/* `xnnd inspect`: verify a program with the runtime loader, then print its methods, steps,
 * delegates and sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fb.h"
#include "program_generated.h"
#include "pte_format.h"
#include "xnnd/runtime.h"

static void print_ids(fb_vec v) {
  printf("(");
  for (uint32_t i = 0; i < v.len; i++) printf("%s%d", i ? ", " : "", fb_vec_i32(v, i));
  printf(")");
}

int xnnd_cmd_inspect(int argc, char** argv) {
  if (argc != 1) {
    fprintf(stderr, "usage: xnnd inspect MODEL.pte\n");
    return XNND_EXIT_USAGE;
  }
  xnnd_error err = {0};
  xnnd_program* prog = NULL;
  xnnd_status st = xnnd_program_load_file(argv[0], NULL, &prog, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd inspect: %s: %s: %s\n", argv[0], xnnd_status_str(st), err.message);
    return XNND_EXIT_USAGE;
  }
  xnnd_program_destroy(prog);
  /* Verified above; read it again plainly for printing. */
  FILE* f = fopen(argv[0], "rb");
  if (!f) return XNND_EXIT_FAIL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  uint8_t* data = aligned_alloc(64, ((size_t)n + 63) & ~(size_t)63);
  if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(data);
    return XNND_EXIT_FAIL;
  }
  fclose(f);
  xnnd_pte_header h;
  xnnd_pte_header_read(data, &h);
  printf("%s: %ld bytes, format version %u\n", argv[0], n, h.version);
  printf("  program flatbuffer %llu bytes, constant segment %llu bytes, delegate segment %llu bytes\n",
         (unsigned long long)h.program_size, (unsigned long long)h.constant_size, (unsigned long long)h.delegate_size);
  fb_table root = fb_root(data + h.program_offset);
  fb_vec delegates = fb_vector(root, XNND_PROGRAM_Program_delegates);
  fb_vec constants = fb_vector(root, XNND_PROGRAM_Program_constants);
  printf("  constants: %u buffers\n", constants.len);
  for (uint32_t i = 0; i < delegates.len; i++) {
    fb_table d = fb_vec_table(delegates, i);
    printf("  delegate %u: backend %s, blob %llu bytes at +%llu\n", i, fb_string(d, XNND_PROGRAM_BackendDelegate_backend, NULL),
           (unsigned long long)fb_u64(d, XNND_PROGRAM_BackendDelegate_size, 0),
           (unsigned long long)fb_u64(d, XNND_PROGRAM_BackendDelegate_offset, 0));
  }
  fb_vec methods = fb_vector(root, XNND_PROGRAM_Program_methods);
  for (uint32_t mi = 0; mi < methods.len; mi++) {
    fb_table m = fb_vec_table(methods, mi);
    fb_vec values = fb_vector(m, XNND_PROGRAM_Method_values);
    fb_vec steps = fb_vector(m, XNND_PROGRAM_Method_steps);
    fb_vec ops = fb_vector(m, XNND_PROGRAM_Method_operators);
    uint64_t activation_bytes = 0;
    for (uint32_t v = 0; v < values.len; v++) {
      fb_table t = fb_vec_table(values, v);
      if (fb_i32(t, XNND_PROGRAM_Tensor_constant, -1) >= 0) continue;
      fb_vec dims = fb_vector(t, XNND_PROGRAM_Tensor_dims);
      uint64_t bytes = xnnd_dtype_size((xnnd_dtype)fb_u8(t, XNND_PROGRAM_Tensor_dtype, 0));
      for (uint32_t k = 0; k < dims.len; k++) bytes *= (uint64_t)fb_vec_i32(dims, k);
      activation_bytes += bytes;
    }
    printf("method \"%s\": %u values (%.2f MB of non-constant tensors), %u steps, inputs ",
           fb_string(m, XNND_PROGRAM_Method_name, NULL), values.len, (double)activation_bytes / 1e6, steps.len);
    print_ids(fb_vector(m, XNND_PROGRAM_Method_inputs));
    printf(", outputs ");
    print_ids(fb_vector(m, XNND_PROGRAM_Method_outputs));
    printf("\n");
    for (uint32_t s = 0; s < steps.len; s++) {
      fb_table step = fb_vec_table(steps, s);
      fb_table call = fb_table_field(step, XNND_PROGRAM_Step_instruction);
      if (fb_u8(step, XNND_PROGRAM_Step_instruction_type, 0) == XNND_PROGRAM_Instruction_DelegateCall) {
        printf("  %4u: delegate %u ", s, fb_u32(call, XNND_PROGRAM_DelegateCall_delegate, 0));
        print_ids(fb_vector(call, XNND_PROGRAM_DelegateCall_inputs));
        printf(" -> ");
        print_ids(fb_vector(call, XNND_PROGRAM_DelegateCall_outputs));
      } else {
        printf("  %4u: %s ", s, fb_vec_string(ops, fb_u32(call, XNND_PROGRAM_KernelCall_op, 0), NULL));
        print_ids(fb_vector(call, XNND_PROGRAM_KernelCall_inputs));
        printf(" -> ");
        print_ids(fb_vector(call, XNND_PROGRAM_KernelCall_outputs));
      }
      printf("\n");
    }
  }
  free(data);
  return 0;
}
