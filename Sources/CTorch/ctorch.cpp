#include <malloc.h>
// The C bridge over LibTorch declared in include/ctorch.h. Kept deliberately small:
// operators go through the dispatcher; everything here is glue and error handling.
#include "ctorch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/optim/adamw.h>
#include <torch/version.h>

#include <cstring>
#include <string>
#include <vector>

struct ctorch_tensor { at::Tensor t; };
struct ctorch_generator { at::Generator g; };
struct ctorch_op { c10::OperatorHandle handle; };
struct ctorch_args {
    struct Item { std::string name; bool named; c10::IValue value; };
    std::vector<Item> items;
};
struct ctorch_results { std::vector<c10::IValue> values; };
struct ctorch_adamw {
    std::vector<at::Tensor> params;
    std::unique_ptr<torch::optim::AdamW> optimizer;
};

namespace {
thread_local std::string last_error;

template <typename F>
auto guarded(F body, decltype(body()) failure) -> decltype(body()) {
    try {
        last_error.clear();
        return body();
    } catch (const c10::Error &e) {
        last_error = e.what_without_backtrace();
    } catch (const std::exception &e) {
        last_error = e.what();
    } catch (...) {
        last_error = "unknown C++ exception";
    }
    return failure;
}

char *copy_string(const std::string &s) {
    char *out = static_cast<char *>(malloc(s.size() + 1));
    memcpy(out, s.c_str(), s.size() + 1);
    return out;
}

ctorch_tensor *wrap(at::Tensor t) { return new ctorch_tensor{std::move(t)}; }

/// Makes a pushed value fit the type the operator's schema expects.
c10::IValue coerce(const c10::IValue &value, const c10::TypePtr &type, const std::string &arg) {
    using K = c10::TypeKind;
    switch (type->kind()) {
    case K::OptionalType:
        if (value.isNone()) return value;
        return coerce(value, type->expectRef<c10::OptionalType>().getElementType(), arg);
    case K::FloatType:
        if (value.isInt()) return c10::IValue(static_cast<double>(value.toInt()));
        return value;
    case K::DeviceObjType:
        if (value.isString()) return c10::IValue(c10::Device(value.toStringRef()));
        return value;
    case K::ListType: {
        auto element = type->expectRef<c10::ListType>().getElementType();
        // A single int where the schema wants int[N] (e.g. "int[1] dim"); SymInt accepts plain ints.
        if (value.isInt() && (element->kind() == K::IntType || element->kind() == K::SymIntType)) {
            return c10::IValue(c10::List<int64_t>({value.toInt()}));
        }
        if (value.isTensorList() && element->kind() == K::OptionalType) {
            c10::List<c10::optional<at::Tensor>> list;
            for (const auto &t : value.toTensorVector()) {
                list.push_back(t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt);
            }
            return c10::IValue(list);
        }
        if (value.isIntList() && element->kind() == K::FloatType) {
            std::vector<double> v;
            for (auto i : value.toIntVector()) v.push_back(static_cast<double>(i));
            return c10::IValue(v);
        }
        return value;
    }
    default:
        return value;
    }
}
} // namespace

extern "C" {

const char *ctorch_last_error(void) { return last_error.c_str(); }

void ctorch_set_num_threads(int32_t n) { guarded([&] { at::set_num_threads(n); return 0; }, 0); }
int32_t ctorch_get_num_threads(void) { return guarded([] { return (int32_t)at::get_num_threads(); }, -1); }
char *ctorch_config(void) { return guarded([] { return copy_string(at::show_config()); }, (char *)nullptr); }
const char *ctorch_version(void) { return TORCH_VERSION; }
void ctorch_free_string(char *s) { free(s); }
bool ctorch_set_grad_enabled(bool enabled) {
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled);
    return previous;
}
bool ctorch_is_grad_enabled(void) { return at::GradMode::is_enabled(); }
void ctorch_retain_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

void ctorch_manual_seed(uint64_t seed) { guarded([&] { at::manual_seed(seed); return 0; }, 0); }

// ---- Tensors ---------------------------------------------------------------------

ctorch_tensor *ctorch_tensor_from_data(const void *data, int32_t dtype, const int64_t *shape, int64_t ndim,
                                       const char *device) {
    return guarded([&] {
        auto options = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
        auto t = at::empty(at::IntArrayRef(shape, ndim), options);
        if (t.numel() > 0) memcpy(t.data_ptr(), data, t.nbytes());
        if (device && strcmp(device, "cpu") != 0) t = t.to(c10::Device(device));
        return wrap(t);
    }, (ctorch_tensor *)nullptr);
}

ctorch_tensor *ctorch_tensor_from_blob(void *data, int32_t dtype, const int64_t *shape, int64_t ndim,
                                       void *context, void (*release)(void *)) {
    return guarded([&] {
        auto options = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
        auto t = at::from_blob(data, at::IntArrayRef(shape, ndim), [context, release](void *) { release(context); },
                               options);
        return wrap(t);
    }, (ctorch_tensor *)nullptr);
}

void ctorch_tensor_free(ctorch_tensor *t) { delete t; }
ctorch_tensor *ctorch_tensor_retain(const ctorch_tensor *t) { return wrap(t->t); }
int64_t ctorch_tensor_dim(const ctorch_tensor *t) { return t->t.dim(); }

int64_t ctorch_tensor_shape(const ctorch_tensor *t, int64_t *sizes, int64_t capacity) {
    auto s = t->t.sizes();
    for (int64_t i = 0; i < (int64_t)s.size() && i < capacity; i++) sizes[i] = s[i];
    return (int64_t)s.size();
}

int32_t ctorch_tensor_dtype(const ctorch_tensor *t) { return static_cast<int32_t>(t->t.scalar_type()); }
bool ctorch_tensor_is_cpu(const ctorch_tensor *t) { return t->t.device().is_cpu(); }
int64_t ctorch_tensor_numel(const ctorch_tensor *t) { return t->t.numel(); }

char *ctorch_tensor_device(const ctorch_tensor *t) {
    return guarded([&] { return copy_string(t->t.device().str()); }, (char *)nullptr);
}

int32_t ctorch_tensor_copy_out(const ctorch_tensor *t, void *out, int64_t bytes) {
    return guarded([&] {
        auto c = t->t.detach().to(at::kCPU).contiguous();
        if ((int64_t)c.nbytes() != bytes) {
            last_error = "copy_out: the tensor holds " + std::to_string(c.nbytes()) + " bytes, the buffer " +
                         std::to_string(bytes);
            return -1;
        }
        if (bytes > 0) memcpy(out, c.data_ptr(), bytes);
        return 0;
    }, -1);
}

int32_t ctorch_tensor_item(const ctorch_tensor *t, double *value) {
    return guarded([&] {
        *value = t->t.item().toDouble();
        return 0;
    }, -1);
}

// ---- Autograd --------------------------------------------------------------------

int32_t ctorch_tensor_set_requires_grad(ctorch_tensor *t, bool requires) {
    return guarded([&] { t->t.requires_grad_(requires); return 0; }, -1);
}
bool ctorch_tensor_requires_grad(const ctorch_tensor *t) { return t->t.requires_grad(); }

int32_t ctorch_backward(const ctorch_tensor *t, const ctorch_tensor *gradient, bool retain_graph) {
    return guarded([&] {
        t->t.backward(gradient ? gradient->t : at::Tensor(), retain_graph);
        return 0;
    }, -1);
}

ctorch_tensor *ctorch_tensor_grad(const ctorch_tensor *t) {
    return guarded([&] {
        const auto &g = t->t.grad();
        return g.defined() ? wrap(g) : (ctorch_tensor *)nullptr;
    }, (ctorch_tensor *)nullptr);
}

int32_t ctorch_tensor_zero_grad(ctorch_tensor *t) {
    return guarded([&] {
        auto &g = t->t.mutable_grad();
        if (g.defined()) g = at::Tensor();
        return 0;
    }, -1);
}

// ---- Generators ------------------------------------------------------------------

ctorch_generator *ctorch_generator_new(uint64_t seed) {
    return guarded([&] { return new ctorch_generator{at::detail::createCPUGenerator(seed)}; },
                   (ctorch_generator *)nullptr);
}
void ctorch_generator_free(ctorch_generator *g) { delete g; }

int64_t ctorch_generator_get_state(const ctorch_generator *g, void *out, int64_t capacity) {
    return guarded([&] {
        auto state = g->g.get_state();
        int64_t n = state.nbytes();
        if (out && capacity >= n) memcpy(out, state.data_ptr(), n);
        return n;
    }, (int64_t)-1);
}

int32_t ctorch_generator_set_state(ctorch_generator *g, const void *state, int64_t bytes) {
    return guarded([&] {
        auto t = at::empty({bytes}, at::kByte);
        memcpy(t.data_ptr(), state, bytes);
        auto generator = g->g;
        generator.set_state(t);
        return 0;
    }, -1);
}

// ---- Operators ---------------------------------------------------------------------

ctorch_op *ctorch_op_find(const char *name, const char *overload) {
    return guarded([&] {
        return new ctorch_op{c10::Dispatcher::singleton().findSchemaOrThrow(name, overload ? overload : "")};
    }, (ctorch_op *)nullptr);
}

char *ctorch_op_schema(const ctorch_op *op) {
    return guarded([&] {
        std::ostringstream text;
        text << op->handle.schema();
        return copy_string(text.str());
    }, (char *)nullptr);
}

// One spare argument list and one spare result list per thread: every operator call
// needs both, and recycling them keeps malloc off the per-op path.
namespace {
thread_local std::unique_ptr<ctorch_args> spare_args;
thread_local std::unique_ptr<ctorch_results> spare_results;
} // namespace

ctorch_args *ctorch_args_new(void) {
    if (spare_args) return spare_args.release();
    auto a = new ctorch_args();
    a->items.reserve(8);
    return a;
}

void ctorch_args_free(ctorch_args *a) {
    if (!a) return;
    a->items.clear();
    if (!spare_args) spare_args.reset(a); else delete a;
}

static ctorch_results *make_results(std::vector<c10::IValue> &&stack) {
    ctorch_results *r = spare_results ? spare_results.release() : new ctorch_results();
    r->values = std::move(stack);
    return r;
}

static void push(ctorch_args *a, const char *name, c10::IValue v) {
    a->items.push_back({name ? std::string(name) : std::string(), name != nullptr, std::move(v)});
}
void ctorch_args_tensor(ctorch_args *a, const char *name, const ctorch_tensor *t) { push(a, name, t->t); }
void ctorch_args_int(ctorch_args *a, const char *name, int64_t v) { push(a, name, v); }
void ctorch_args_double(ctorch_args *a, const char *name, double v) { push(a, name, v); }
void ctorch_args_bool(ctorch_args *a, const char *name, bool v) { push(a, name, v); }
void ctorch_args_none(ctorch_args *a, const char *name) { push(a, name, c10::IValue()); }
void ctorch_args_string(ctorch_args *a, const char *name, const char *v) { push(a, name, std::string(v)); }
void ctorch_args_ints(ctorch_args *a, const char *name, const int64_t *v, int64_t n) {
    push(a, name, c10::IValue(std::vector<int64_t>(v, v + n)));
}
void ctorch_args_doubles(ctorch_args *a, const char *name, const double *v, int64_t n) {
    push(a, name, c10::IValue(std::vector<double>(v, v + n)));
}
void ctorch_args_tensors(ctorch_args *a, const char *name, ctorch_tensor *const *v, int64_t n) {
    std::vector<at::Tensor> list;
    list.reserve(n);
    for (int64_t i = 0; i < n; i++) list.push_back(v[i] ? v[i]->t : at::Tensor());
    push(a, name, c10::IValue(list));
}
void ctorch_args_generator(ctorch_args *a, const char *name, const ctorch_generator *g) { push(a, name, g->g); }

ctorch_results *ctorch_op_call(const ctorch_op *op, const ctorch_args *a) {
    return guarded([&] {
        const auto &schema = op->handle.schema();
        const auto &arguments = schema.arguments();
        std::vector<c10::IValue> stack;
        stack.reserve(arguments.size());
        bool all_positional = true;
        for (const auto &item : a->items) all_positional = all_positional && !item.named;
        if (all_positional && a->items.size() <= arguments.size()) {
            // The common case: arguments in schema order, the rest from the schema's defaults.
            size_t i = 0;
            for (; i < a->items.size(); i++) stack.push_back(coerce(a->items[i].value, arguments[i].type(), arguments[i].name()));
            for (; i < arguments.size(); i++) {
                if (!arguments[i].default_value()) {
                    throw std::runtime_error(schema.name() + ": missing argument '" + arguments[i].name() + "'");
                }
                stack.push_back(*arguments[i].default_value());
            }
            op->handle.callBoxed(&stack);
            return make_results(std::move(stack));
        }
        size_t positional = 0;
        while (positional < a->items.size() && !a->items[positional].named) positional++;
        if (positional > arguments.size()) {
            throw std::runtime_error(schema.name() + ": " + std::to_string(positional) + " arguments given, it takes " +
                                     std::to_string(arguments.size()));
        }
        for (size_t i = 0; i < arguments.size(); i++) {
            const auto &argument = arguments[i];
            const c10::IValue *given = nullptr;
            if (i < positional) {
                given = &a->items[i].value;
            } else {
                for (size_t k = positional; k < a->items.size(); k++) {
                    if (a->items[k].name == argument.name()) { given = &a->items[k].value; break; }
                }
            }
            if (given) {
                stack.push_back(coerce(*given, argument.type(), argument.name()));
            } else if (argument.default_value()) {
                stack.push_back(*argument.default_value());
            } else {
                throw std::runtime_error(schema.name() + ": missing argument '" + argument.name() + "'");
            }
        }
        for (size_t k = positional; k < a->items.size(); k++) {
            bool known = false;
            for (const auto &argument : arguments) known = known || argument.name() == a->items[k].name;
            if (!known) throw std::runtime_error(schema.name() + ": no argument named '" + a->items[k].name + "'");
        }
        op->handle.callBoxed(&stack);
        return make_results(std::move(stack));
    }, (ctorch_results *)nullptr);
}

void ctorch_results_free(ctorch_results *r) {
    if (!r) return;
    r->values.clear();
    if (!spare_results) spare_results.reset(r); else delete r;
}
int64_t ctorch_results_count(const ctorch_results *r) { return (int64_t)r->values.size(); }
int32_t ctorch_results_kind(const ctorch_results *r, int64_t i) {
    const auto &v = r->values[i];
    if (v.isTensor()) return 1;
    if (v.isInt()) return 2;
    if (v.isDouble()) return 3;
    if (v.isBool()) return 4;
    if (v.isTensorList()) return 5;
    return 0;
}
ctorch_tensor *ctorch_results_tensor(const ctorch_results *r, int64_t i) { return wrap(r->values[i].toTensor()); }
int64_t ctorch_results_int(const ctorch_results *r, int64_t i) { return r->values[i].toInt(); }
double ctorch_results_double(const ctorch_results *r, int64_t i) { return r->values[i].toDouble(); }
int64_t ctorch_results_list_count(const ctorch_results *r, int64_t i) {
    return (int64_t)r->values[i].toTensorList().size();
}
ctorch_tensor *ctorch_results_list_tensor(const ctorch_results *r, int64_t i, int64_t j) {
    return wrap(r->values[i].toTensorList().get(j));
}

// ---- AdamW -------------------------------------------------------------------------

ctorch_adamw *ctorch_adamw_new(ctorch_tensor *const *params, int64_t n, double lr, double beta1, double beta2,
                               double eps, double weight_decay) {
    return guarded([&] {
        auto o = new ctorch_adamw();
        for (int64_t i = 0; i < n; i++) o->params.push_back(params[i]->t);
        auto options = torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay);
        o->optimizer = std::make_unique<torch::optim::AdamW>(o->params, options);
        return o;
    }, (ctorch_adamw *)nullptr);
}
void ctorch_adamw_free(ctorch_adamw *o) { delete o; }
int32_t ctorch_adamw_step(ctorch_adamw *o) { return guarded([&] { o->optimizer->step(); return 0; }, -1); }
int32_t ctorch_adamw_zero_grad(ctorch_adamw *o) { return guarded([&] { o->optimizer->zero_grad(); return 0; }, -1); }
int32_t ctorch_adamw_set_lr(ctorch_adamw *o, double lr) {
    return guarded([&] {
        for (auto &group : o->optimizer->param_groups()) {
            static_cast<torch::optim::AdamWOptions &>(group.options()).lr(lr);
        }
        return 0;
    }, -1);
}

int32_t ctorch_adamw_get_state(const ctorch_adamw *o, int64_t index, int64_t *step, ctorch_tensor **exp_avg,
                               ctorch_tensor **exp_avg_sq) {
    return guarded([&] {
        const auto &p = o->params.at(index);
        auto &state = o->optimizer->state();
        auto found = state.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
        if (found == state.end()) {
            *step = 0; *exp_avg = nullptr; *exp_avg_sq = nullptr;
            return 0;
        }
        auto &s = static_cast<torch::optim::AdamWParamState &>(*found->second);
        *step = s.step();
        *exp_avg = wrap(s.exp_avg());
        *exp_avg_sq = wrap(s.exp_avg_sq());
        return 0;
    }, -1);
}

int32_t ctorch_adamw_set_state(ctorch_adamw *o, int64_t index, int64_t step, const ctorch_tensor *exp_avg,
                               const ctorch_tensor *exp_avg_sq) {
    return guarded([&] {
        const auto &p = o->params.at(index);
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(step);
        s->exp_avg(exp_avg->t.clone());
        s->exp_avg_sq(exp_avg_sq->t.clone());
        o->optimizer->state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(s);
        return 0;
    }, -1);
}

} // extern "C"
