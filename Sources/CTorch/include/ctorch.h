// CTorch: a thin C bridge over LibTorch. Every call catches every C++ exception:
// failures return NULL (or a negative status) and leave the message in
// ctorch_last_error(), so no exception ever crosses into Swift.
//
// ATen operators are reached through LibTorch's boxed dispatcher by schema name
// ("aten::conv3d"), with arguments checked and defaults filled from the operator's own
// schema — the bridge never re-implements or re-declares what LibTorch defines.
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ctorch_tensor ctorch_tensor;
typedef struct ctorch_generator ctorch_generator;
typedef struct ctorch_op ctorch_op;
typedef struct ctorch_args ctorch_args;
typedef struct ctorch_results ctorch_results;
typedef struct ctorch_adamw ctorch_adamw;

/// The message of the last failure on this thread ("" if none).
const char *ctorch_last_error(void);

// ---- Runtime -------------------------------------------------------------------
void ctorch_set_num_threads(int32_t n);
int32_t ctorch_get_num_threads(void);
/// LibTorch's build configuration (a malloc'ed string; free with ctorch_free_string).
char *ctorch_config(void);
const char *ctorch_version(void);
void ctorch_free_string(char *s);
/// Enables or disables gradient recording on this thread; returns the previous state.
bool ctorch_set_grad_enabled(bool enabled);
bool ctorch_is_grad_enabled(void);
void ctorch_manual_seed(uint64_t seed);
/// glibc: serve blocks up to 32 MB from the heap and keep up to 1 GB of freed heap (see Torch.retainFreedMemory).
void ctorch_retain_freed_memory(void);

// ---- Tensors ---------------------------------------------------------------------
/// dtype values are c10::ScalarType codes (Byte 0, Char 1, Short 2, Int 3, Long 4,
/// Half 5, Float 6, Double 7, Bool 11, BFloat16 15).
ctorch_tensor *ctorch_tensor_from_data(const void *data, int32_t dtype, const int64_t *shape, int64_t ndim,
                                       const char *device);
/// Wraps memory without copying; `release(context)` runs when LibTorch lets go of it.
ctorch_tensor *ctorch_tensor_from_blob(void *data, int32_t dtype, const int64_t *shape, int64_t ndim,
                                       void *context, void (*release)(void *context));
void ctorch_tensor_free(ctorch_tensor *t);
ctorch_tensor *ctorch_tensor_retain(const ctorch_tensor *t);
int64_t ctorch_tensor_dim(const ctorch_tensor *t);
/// Writes up to `capacity` sizes; returns the number of dimensions.
int64_t ctorch_tensor_shape(const ctorch_tensor *t, int64_t *sizes, int64_t capacity);
int32_t ctorch_tensor_dtype(const ctorch_tensor *t);
bool ctorch_tensor_is_cpu(const ctorch_tensor *t);
int64_t ctorch_tensor_numel(const ctorch_tensor *t);
/// "cpu", "cuda:0", … (malloc'ed; free with ctorch_free_string).
char *ctorch_tensor_device(const ctorch_tensor *t);
/// Copies the elements (made contiguous, on the CPU) into `out`; returns 0, or -1 if `bytes` is wrong.
int32_t ctorch_tensor_copy_out(const ctorch_tensor *t, void *out, int64_t bytes);
/// The first element as a double (for scalars and .item()).
int32_t ctorch_tensor_item(const ctorch_tensor *t, double *value);

// ---- Autograd --------------------------------------------------------------------
int32_t ctorch_tensor_set_requires_grad(ctorch_tensor *t, bool requires);
bool ctorch_tensor_requires_grad(const ctorch_tensor *t);
/// Backpropagates from `t` (a scalar unless `gradient` is given).
int32_t ctorch_backward(const ctorch_tensor *t, const ctorch_tensor *gradient, bool retain_graph);
/// The accumulated gradient, or NULL when there is none (ctorch_last_error() is then "").
ctorch_tensor *ctorch_tensor_grad(const ctorch_tensor *t);
int32_t ctorch_tensor_zero_grad(ctorch_tensor *t);

// ---- Random generators with explicit seeds ---------------------------------------
ctorch_generator *ctorch_generator_new(uint64_t seed);
void ctorch_generator_free(ctorch_generator *g);
/// The generator's state as bytes (for resumable training); returns the byte count.
int64_t ctorch_generator_get_state(const ctorch_generator *g, void *out, int64_t capacity);
int32_t ctorch_generator_set_state(ctorch_generator *g, const void *state, int64_t bytes);

// ---- Operators through the dispatcher --------------------------------------------
/// Finds "aten::name" with overload ("" for the default). Handles live forever.
ctorch_op *ctorch_op_find(const char *name, const char *overload);
/// The operator's schema as text, e.g. "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor".
char *ctorch_op_schema(const ctorch_op *op);

ctorch_args *ctorch_args_new(void);
void ctorch_args_free(ctorch_args *a);
/// Each push adds a positional argument (name NULL) or a keyword argument.
void ctorch_args_tensor(ctorch_args *a, const char *name, const ctorch_tensor *t);
void ctorch_args_int(ctorch_args *a, const char *name, int64_t v);
void ctorch_args_double(ctorch_args *a, const char *name, double v);
void ctorch_args_bool(ctorch_args *a, const char *name, bool v);
void ctorch_args_none(ctorch_args *a, const char *name);
void ctorch_args_string(ctorch_args *a, const char *name, const char *v);
void ctorch_args_ints(ctorch_args *a, const char *name, const int64_t *v, int64_t n);
void ctorch_args_doubles(ctorch_args *a, const char *name, const double *v, int64_t n);
void ctorch_args_tensors(ctorch_args *a, const char *name, ctorch_tensor *const *v, int64_t n);
void ctorch_args_generator(ctorch_args *a, const char *name, const ctorch_generator *g);

/// Calls the operator; NULL on failure (bad arguments, shape mismatch, …).
ctorch_results *ctorch_op_call(const ctorch_op *op, const ctorch_args *a);
void ctorch_results_free(ctorch_results *r);
int64_t ctorch_results_count(const ctorch_results *r);
/// Kind of result i: 1 tensor, 2 int, 3 double, 4 bool, 5 tensor list, 0 other.
int32_t ctorch_results_kind(const ctorch_results *r, int64_t i);
ctorch_tensor *ctorch_results_tensor(const ctorch_results *r, int64_t i);
int64_t ctorch_results_int(const ctorch_results *r, int64_t i);
double ctorch_results_double(const ctorch_results *r, int64_t i);
int64_t ctorch_results_list_count(const ctorch_results *r, int64_t i);
ctorch_tensor *ctorch_results_list_tensor(const ctorch_results *r, int64_t i, int64_t j);

// ---- AdamW (LibTorch's optimiser) -------------------------------------------------
ctorch_adamw *ctorch_adamw_new(ctorch_tensor *const *params, int64_t n, double lr, double beta1, double beta2,
                               double eps, double weight_decay);
void ctorch_adamw_free(ctorch_adamw *o);
int32_t ctorch_adamw_step(ctorch_adamw *o);
int32_t ctorch_adamw_zero_grad(ctorch_adamw *o);
int32_t ctorch_adamw_set_lr(ctorch_adamw *o, double lr);
/// Per-parameter state for checkpoints: step count and the two moment tensors
/// (NULL moments and step 0 before the first step).
int32_t ctorch_adamw_get_state(const ctorch_adamw *o, int64_t index, int64_t *step, ctorch_tensor **exp_avg,
                               ctorch_tensor **exp_avg_sq);
int32_t ctorch_adamw_set_state(ctorch_adamw *o, int64_t index, int64_t step, const ctorch_tensor *exp_avg,
                               const ctorch_tensor *exp_avg_sq);

#ifdef __cplusplus
}
#endif

#endif
