/* Symbolic dims (dynamic shapes): a dim is an affine form c + k0*s0 + ... + k3*s3 over a
 * method's symbols, each symbol an integer in [min, max]. Shared by the toolchain (IR shape
 * inference, text IR, program writer, XNNPACK lowering) and the runtime (solving the symbols
 * from input shapes, evaluating every dim at execute). Pure: no allocation, no printing.
 *
 * Invariants (checked by xnnd_dimx_check): coefficients are in [0, 2^40] (so a dim grows with
 * every symbol and its upper bound is its value at the symbols' maxima), the constant is in
 * [-2^40, 2^40] (`s0-1`), and, where the ranges are known, the value at the symbols' minima is
 * >= 0 (xnnd_dimx_lower). A symbol's range is 0 <= min <= max <= 2^40. An affine form with
 * every k zero is a static dim.
 *
 * Wire form (program.fbs Tensor.dim_exprs, Attr.int_exprs; xnnpack.fbs Value.dim_exprs,
 * StaticReshape.new_shape_exprs): per dim 1 + num_symbols longs, the constant first, then one
 * coefficient per symbol in symbol order. docs/ARCHITECTURE.md "Dynamic shapes". */
#ifndef XNND_SCHEMA_DIM_EXPR_H
#define XNND_SCHEMA_DIM_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XNND_MAX_SYMS 4
#define XNND_SYM_NAME_SIZE 32
#define XNND_DIMX_LIMIT ((int64_t)1 << 40)

typedef struct xnnd_dimx {
  int64_t c;
  int64_t k[XNND_MAX_SYMS];
} xnnd_dimx;

typedef struct xnnd_symbol {
  char name[XNND_SYM_NAME_SIZE];  /* [A-Za-z_][A-Za-z0-9_]*, printed in the text IR */
  int64_t min, max;
} xnnd_symbol;

/* The static dim d. */
xnnd_dimx xnnd_dimx_const(int64_t d);
/* k * symbol s. */
xnnd_dimx xnnd_dimx_sym(uint32_t s, int64_t k);
bool xnnd_dimx_is_const(const xnnd_dimx* x);
bool xnnd_dimx_equal(const xnnd_dimx* a, const xnnd_dimx* b);
/* Index of the only symbol with a nonzero coefficient, or -1 (none or several). */
int xnnd_dimx_single_symbol(const xnnd_dimx* x);
/* Value at the symbol values syms[0..n) (symbols past n count as 0). With the invariants and
 * syms within their ranges the result is at most ~2^43 (no overflow). */
int64_t xnnd_dimx_eval(const xnnd_dimx* x, const int64_t* syms, uint32_t n);
/* Value at every symbol's max / min. */
int64_t xnnd_dimx_upper(const xnnd_dimx* x, const xnnd_symbol* syms, uint32_t n);
int64_t xnnd_dimx_lower(const xnnd_dimx* x, const xnnd_symbol* syms, uint32_t n);
/* Invariants above for x over n symbols (coefficients of symbols >= n must be 0); the
 * lower-bound rule is the caller's (xnnd_dimx_lower >= 0). */
bool xnnd_dimx_check(const xnnd_dimx* x, uint32_t n);
/* A symbol's name and range are valid. */
bool xnnd_symbol_check(const xnnd_symbol* s);

/* Text: symbols in index order as `K*NAME` (`NAME` when K is 1) joined by `+`, then `+C` when
 * C > 0 or `-C` when C < 0; a static dim prints as its number. Examples: `s0`, `2*s0`,
 * `32*h+1`, `s0-1`, `s0+s1`, `7`.
 * Returns the length the whole text needs (like snprintf); buf NUL-terminated when size > 0. */
size_t xnnd_dimx_print(char* buf, size_t size, const xnnd_dimx* x, const xnnd_symbol* syms,
                       uint32_t n);
/* Parse one dim from s[0..len): the grammar above, plus `K*NAME`/`NAME*K` and terms in any
 * order (`1+s0` is `s0+1`). Stops at the first character that cannot continue it (`,` `]`).
 * Returns the number of characters consumed, 0 on error (message in err naming the problem). */
size_t xnnd_dimx_parse(const char* s, size_t len, const xnnd_symbol* syms, uint32_t n,
                       xnnd_dimx* out, char* err, size_t err_size);

/* Wire form: write n_dims forms into out[n_dims * (1 + n_syms)]; read them back. Reading
 * checks the invariants and returns false on a violation. */
void xnnd_dimx_encode(const xnnd_dimx* x, uint32_t n_dims, uint32_t n_syms, int64_t* out);
bool xnnd_dimx_decode(const int64_t* in, uint32_t n_dims, uint32_t n_syms, xnnd_dimx* out);

#ifdef __cplusplus
}
#endif

#endif /* XNND_SCHEMA_DIM_EXPR_H */
