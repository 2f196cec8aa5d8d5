/* A small convnet fixture for runtime tests: conv+relu, depthwise conv+relu6, tanh (portable,
 * so the graph splits into two partitions), a residual add, max pool, global mean, view and
 * linear; input [1,3,16,16], output [1,10]. Weights are fixed-seed. */
#ifndef XNND_TEST_SMALL_CONVNET_H
#define XNND_TEST_SMALL_CONVNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XT_CONVNET_IN_NUMEL (3 * 16 * 16)
#define XT_CONVNET_OUT_NUMEL 10

/* The convnet as .pte bytes (64-aligned, malloc'd; the caller frees), delegated (two
 * partitions, asserted) or portable only. Fails the running cmocka test on any error. */
uint8_t* xt_small_convnet_program(bool delegate, size_t* size_out);

/* Fixed-seed values in [-0.25, 0.25): the fixture's weights and the tests' inputs. */
void xt_fill_uniform(float* w, size_t n, uint32_t seed);

#endif
