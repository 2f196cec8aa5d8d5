/* What `xnnd run --profile` and `xnnd inspect --kernels` share: the --backend-option parser
 * and the print-out of what each delegate decided at init (xnnd_method_describe_step). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool xnnd_cli_backend_option(const char* cmd, char* spec, xnnd_backend_option* out) {
  char* colon = strchr(spec, ':');
  char* eq = colon ? strchr(colon + 1, '=') : NULL;
  if (!colon || !eq || colon == spec || eq == colon + 1) {
    fprintf(stderr, "xnnd %s: --backend-option %s: expected BACKEND:KEY=VALUE\n", cmd, spec);
    return false;
  }
  *colon = '\0', *eq = '\0';
  *out = (xnnd_backend_option){spec, colon + 1, eq + 1};
  return true;
}

void xnnd_cli_print_delegate_choices(FILE* out, const xnnd_method* m) {
  for (uint32_t s = 0; s < xnnd_method_num_steps(m); s++) {
    size_t need = xnnd_method_describe_step(m, s, NULL, 0);
    if (need == 0) continue;
    char* text = malloc(need + 1);
    if (text == NULL) return;
    xnnd_method_describe_step(m, s, text, need + 1);
    fprintf(out, "step %u: %s", s, text);
    free(text);
  }
}
