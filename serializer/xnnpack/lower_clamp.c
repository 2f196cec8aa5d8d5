/* aten.relu -> Clamp [0, inf]; aten.hardtanh(min_val, max_val) and aten.clamp(min?, max?) ->
 * Clamp. XNNPACK needs min < max strictly. */
#include <math.h>

#include "xnn_lower_internal.h"

static void bounds(const xnnd_ir_node* node, float* lo, float* hi) {
  if (!xnnd_node_clamp_range(node, lo, hi)) *lo = -INFINITY, *hi = INFINITY;
}

bool xnn_check_clamp(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed clamp");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  float lo, hi;
  bounds(node, &lo, &hi);
  if (!(lo < hi))
    return xnn_reason(reason, reason_size, "range [%g, %g]: XNNPACK Clamp needs min < max", (double)lo, (double)hi);
  /* XNNPACK fuses a Clamp into a producer that has an output range and intersects the two;
   * an empty intersection makes xnn_create_runtime fail, so keep such a clamp portable. */
  xnnd_id in = node->inputs[0];
  xnnd_id prod = in < g->num_values ? g->values[in].producer : XNND_NO_ID;
  if (prod != XNND_NO_ID && prod < g->num_nodes) {
    float plo = g->nodes[prod].output_min, phi = g->nodes[prod].output_max;
    if (!((lo > plo ? lo : plo) < (hi < phi ? hi : phi)))
      return xnn_reason(reason, reason_size,
                        "range [%g, %g] does not meet its producer's fused range [%g, %g]; XNNPACK would "
                        "merge them into an empty range", (double)lo, (double)hi, (double)plo, (double)phi);
  }
  return true;
}

xnnd_status xnn_lower_clamp(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  float lo, hi;
  bounds(node, &lo, &hi);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Clamp_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Clamp_output_id, output, UINT32_MAX);
  fb_add_f32(fb, XNND_XNNPACK_Clamp_output_min, lo, -INFINITY);
  fb_add_f32(fb, XNND_XNNPACK_Clamp_output_max, hi, INFINITY);
  return xnn_b_node(b, XNND_XNNPACK_Node_Clamp, fb_table_end(fb));
}
