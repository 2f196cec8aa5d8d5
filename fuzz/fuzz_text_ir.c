/* Fuzz the text IR: xnnd_graph_parse on arbitrary bytes (large constants resolve against an
 * empty bundle), then xnnd_graph_verify and xnnd_graph_print. For a graph that verifies, the
 * printed form must parse again and print identically (the printer is canonical). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static xnnd_const_bundle* empty;
  if (!empty && xnnd_const_bundle_create(&empty) != XNND_OK) return 0;
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse((const char*)data, size, empty, &g, &err) != XNND_OK) {
    if (g != NULL) __builtin_trap();
    return 0;
  }
  bool valid = xnnd_graph_verify(g) == XNND_OK;
  xnnd_const_bundle* b = NULL;
  if (xnnd_const_bundle_create(&b) != XNND_OK) {
    xnnd_graph_destroy(g);
    return 0;
  }
  char* text = xnnd_graph_print(g, b);
  if (text && valid) {
    xnnd_graph* g2 = NULL;
    if (xnnd_graph_parse(text, strlen(text), b, &g2, &err) != XNND_OK) {
      fprintf(stderr, "printed graph does not parse: %s\n---\n%s---\n", err.message, text);
      __builtin_trap();
    }
    char* text2 = xnnd_graph_print(g2, NULL);
    if (text2 && strcmp(text, text2) != 0) {
      fprintf(stderr, "print is not canonical:\n---\n%s---\n%s---\n", text, text2);
      __builtin_trap();
    }
    free(text2);
    xnnd_graph_destroy(g2);
  }
  free(text);
  xnnd_const_bundle_destroy(b);
  xnnd_graph_destroy(g);
  return 0;
}
