/* Minimal app: links libxnnd_runtime only. Loads a .pte, feeds zeros, runs once, and prints
 * the first values of output 0.   usage: minimal_app MODEL.pte */
#include <stdio.h>
#include <stdlib.h>

#include "xnnd/runtime.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.pte\n", argv[0]);
    return 2;
  }
  xnnd_error err;
  xnnd_program* program = NULL;
  if (xnnd_program_load_file(argv[1], NULL, &program, &err) != XNND_OK) {
    fprintf(stderr, "load failed: %s\n", err.message);
    return 1;
  }
  xnnd_method* method = NULL;
  xnnd_method_options options = {.num_threads = 1};
  if (xnnd_method_create(program, xnnd_program_method_name(program, 0), &options, &method, &err) != XNND_OK) {
    fprintf(stderr, "method create failed: %s\n", err.message);
    xnnd_program_destroy(program);
    return 1;
  }
  int rc = 1;
  void* buffers[16] = {0};
  uint32_t n = xnnd_method_num_inputs(method);
  for (uint32_t i = 0; i < n && i < 16; i++) {
    xnnd_tensor t;
    xnnd_method_input_info(method, i, &t);
    buffers[i] = calloc(xnnd_tensor_numel(&t), xnnd_dtype_size(t.dtype));
    t.data = buffers[i];
    if (!t.data || xnnd_method_set_input(method, i, &t) != XNND_OK) goto done;
  }
  if (xnnd_method_execute(method) != XNND_OK) {
    fprintf(stderr, "execute failed: %s\n", xnnd_method_errmsg(method));
    goto done;
  }
  xnnd_tensor out;
  xnnd_method_get_output(method, 0, &out);
  printf("output 0 has %zu elements:", xnnd_tensor_numel(&out));
  for (size_t i = 0; i < 5 && i < xnnd_tensor_numel(&out) && out.dtype == XNND_F32; i++)
    printf(" %g", ((const float*)out.data)[i]);
  printf("\n");
  rc = 0;
done:
  for (int i = 0; i < 16; i++) free(buffers[i]);
  xnnd_method_destroy(method);
  xnnd_program_destroy(program);
  return rc;
}
