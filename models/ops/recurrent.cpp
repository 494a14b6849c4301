// The recurrent layers: RNN, GRU and LSTM (opsets 7 and 14), one direction at a time.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/ops/window.h"

namespace ak::models {
namespace {

using namespace nn;

// ---------------------------------------------------------------------------------------
// RNN, GRU, LSTM

/// One of the activation functions a recurrent layer may name, with its parameters.
struct Activation {
  enum class Kind {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus
  };
  Kind kind = Kind::kTanh;
  double alpha = 0, beta = 0;

  at::Tensor operator()(const at::Tensor& x) const {
    switch (kind) {
      case Kind::kRelu:
        return at::relu(x);
      case Kind::kTanh:
        return at::tanh(x);
      case Kind::kSigmoid:
        return at::sigmoid(x);
      case Kind::kAffine:
        return x * alpha + beta;
      case Kind::kLeakyRelu:
        return at::leaky_relu(x, alpha);
      case Kind::kThresholdedRelu:
        return x * (x > alpha).to(x.scalar_type());
      case Kind::kScaledTanh:
        return at::tanh(x * beta) * alpha;
      case Kind::kHardSigmoid:
        return (x * alpha + beta).clamp(0, 1);
      case Kind::kElu:
        return at::elu(x, alpha);
      case Kind::kSoftsign:
        return x / (x.abs() + 1);
      case Kind::kSoftplus:
        return at::softplus(x);
    }
    return x;
  }
};

/// Parses activation `name`; its alpha/beta come next from the attribute lists (in the
/// order of the functions that take them), else from the ONNX op's defaults.
Result<Activation> parse_activation(const std::string& name, const std::vector<float>& alphas, size_t* next_alpha,
                                    const std::vector<float>& betas, size_t* next_beta) {
  using K = Activation::Kind;
  struct Known {
    const char* name;
    K kind;
    int params;  // 0 none, 1 alpha, 2 alpha and beta
    double alpha, beta;
  };
  static const Known kKnown[] = {
      {"relu", K::kRelu, 0, 0, 0},
      {"tanh", K::kTanh, 0, 0, 0},
      {"sigmoid", K::kSigmoid, 0, 0, 0},
      {"affine", K::kAffine, 2, 1.0, 0.0},
      {"leakyrelu", K::kLeakyRelu, 1, 0.01, 0},
      {"thresholdedrelu", K::kThresholdedRelu, 1, 1.0, 0},
      {"scaledtanh", K::kScaledTanh, 2, 1.0, 1.0},
      {"hardsigmoid", K::kHardSigmoid, 2, 0.2, 0.5},
      {"elu", K::kElu, 1, 1.0, 0},
      {"softsign", K::kSoftsign, 0, 0, 0},
      {"softplus", K::kSoftplus, 0, 0, 0},
  };
  const std::string key = lower(name);
  for (const Known& k : kKnown) {
    if (key != k.name) continue;
    Activation a{k.kind, k.alpha, k.beta};
    if (k.params >= 1 && *next_alpha < alphas.size()) a.alpha = alphas[(*next_alpha)++];
    if (k.params >= 2 && *next_beta < betas.size()) a.beta = betas[(*next_beta)++];
    return a;
  }
  return unsupported("activation '" + name + "' is not supported");
}

enum class Cell { kRnn, kGru, kLstm };

struct RecurrentAttrs {
  Cell cell = Cell::kRnn;
  int64_t gates = 1;   ///< gate blocks in W and R: 1, 3 or 4
  int64_t hidden = 0;  ///< 0: taken from R
  int64_t directions = 1;
  bool reverse = false;  ///< direction "reverse" (the second direction of "bidirectional" always is)
  double clip = 0;       ///< 0: no clipping
  bool linear_before_reset = false;
  bool input_forget = false;
  bool batch_first = false;      ///< layout 1
  std::vector<Activation> acts;  ///< per direction, `per_dir` functions each
  size_t per_dir = 1;
};

Result<KernelPtr> make_recurrent(const OpBuildInfo& info) {
  const Node& node = info.node;
  RecurrentAttrs a;
  if (info.op() == "RNN")
    a.cell = Cell::kRnn;
  else if (info.op() == "GRU")
    a.cell = Cell::kGru;
  else
    a.cell = Cell::kLstm;
  a.gates = a.cell == Cell::kRnn ? 1 : a.cell == Cell::kGru ? 3 : 4;
  a.per_dir = a.cell == Cell::kRnn ? 1 : a.cell == Cell::kGru ? 2 : 3;
  a.hidden = node.attr_int("hidden_size", 0);
  const std::string direction = node.attr_string("direction", "forward");
  if (direction == "forward")
    a.directions = 1;
  else if (direction == "reverse")
    a.reverse = true;
  else if (direction == "bidirectional")
    a.directions = 2;
  else
    return invalid_input("direction '" + direction + "' is not one of forward, reverse, bidirectional");
  if (const Attribute* clip = node.find_attribute("clip")) {
    a.clip = clip->f;
    if (!(a.clip > 0)) return invalid_input("clip " + std::to_string(a.clip) + " must be positive");
  }
  a.linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  a.input_forget = node.attr_int("input_forget", 0) != 0;
  a.batch_first = info.opset >= 14 && node.attr_int("layout", 0) != 0;

  std::vector<std::string> names;
  if (const Attribute* acts = node.find_attribute("activations")) names = acts->strings;
  if (names.empty()) {
    static const char* const kDefaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    for (int64_t d = 0; d < a.directions; ++d)
      for (size_t i = 0; i < a.per_dir; ++i) names.push_back(kDefaults[a.per_dir - 1][i]);
  } else if (names.size() == a.per_dir && a.directions == 2) {
    names.insert(names.end(), names.begin(), names.end());
  }
  if (names.size() != a.per_dir * static_cast<size_t>(a.directions))
    return invalid_input("activations lists " + std::to_string(names.size()) + " functions, expected " +
                         std::to_string(a.per_dir * static_cast<size_t>(a.directions)));
  const std::vector<float> alphas = node.attr_floats("activation_alpha"), betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  for (const auto& name : names) {
    AK_ASSIGN_OR_RETURN(Activation act, parse_activation(name, alphas, &next_alpha, betas, &next_beta));
    a.acts.push_back(act);
  }

  return make_kernel([a](OpContext& ctx) {
    at::Tensor x = ctx.input(0);
    if (x.dim() != 3)
      throw std::invalid_argument("recurrent input X must have rank 3, has rank " + std::to_string(x.dim()));
    if (a.batch_first) x = x.transpose(0, 1);
    const at::Tensor& w = ctx.input(1);
    const at::Tensor& rw = ctx.input(2);
    const int64_t steps = x.size(0), batch = x.size(1);
    const int64_t hidden = a.hidden > 0 ? a.hidden : rw.size(-1);
    const int64_t gh = a.gates * hidden;
    if (w.dim() != 3 || w.size(0) != a.directions || w.size(1) != gh || w.size(2) != x.size(2))
      throw std::invalid_argument("W has shape " + bracketed(Ints(w.sizes().begin(), w.sizes().end())) + ", expected [" +
                                  std::to_string(a.directions) + "," + std::to_string(gh) + "," +
                                  std::to_string(x.size(2)) + "]");
    if (rw.dim() != 3 || rw.size(0) != a.directions || rw.size(1) != gh || rw.size(2) != hidden)
      throw std::invalid_argument("R has shape " + bracketed(Ints(rw.sizes().begin(), rw.sizes().end())) + ", expected [" +
                                  std::to_string(a.directions) + "," + std::to_string(gh) + "," +
                                  std::to_string(hidden) + "]");
    const bool lstm = a.cell == Cell::kLstm;
    auto initial = [&](size_t i) {
      if (!ctx.has_input(i)) return at::Tensor();
      at::Tensor t = ctx.input(i);
      if (a.batch_first) t = t.transpose(0, 1);
      if (t.dim() != 3 || t.size(0) != a.directions || t.size(1) != batch || t.size(2) != hidden)
        throw std::invalid_argument("initial state input " + std::to_string(i) + " has the wrong shape");
      return t;
    };
    const at::Tensor init_h = initial(5);
    const at::Tensor init_c = lstm ? initial(6) : at::Tensor();
    const at::Tensor peep = lstm && ctx.has_input(7) ? ctx.input(7) : at::Tensor();
    at::Tensor valid, invalid;
    if (ctx.has_input(4)) {
      const at::Tensor lens = ctx.input(4).to(at::kLong);
      valid = (at::arange(steps, lens.options()).unsqueeze(1) < lens.unsqueeze(0)).unsqueeze(2);
      invalid = valid.logical_not();
    }
    const bool want_y = ctx.has_output(0);
    std::vector<at::Tensor> y_dirs, h_dirs, c_dirs;
    for (int64_t d = 0; d < a.directions; ++d) {
      const bool reverse = a.reverse || d == 1;
      const Activation* act = &a.acts[static_cast<size_t>(d) * a.per_dir];
      const at::Tensor rt = rw[d].t();
      // Input projections of all steps in one matmul; every bias that is simply added to
      // a gate's pre-activation is folded in here.
      at::Tensor xw = at::matmul(x, w[d].t());
      at::Tensor rb_h;  // GRU with linear_before_reset: the h-gate recurrence bias stays inside r * (...)
      if (ctx.has_input(3)) {
        const at::Tensor& b = ctx.input(3);
        if (b.dim() != 2 || b.size(0) != a.directions || b.size(1) != 2 * gh)
          throw std::invalid_argument("B must have shape [" + std::to_string(a.directions) + "," +
                                      std::to_string(2 * gh) + "]");
        at::Tensor wb = b[d].slice(0, 0, gh), rb = b[d].slice(0, gh, 2 * gh);
        if (a.cell == Cell::kGru && a.linear_before_reset) {
          rb_h = rb.slice(0, 2 * hidden, gh);
          rb = at::cat({rb.slice(0, 0, 2 * hidden), at::zeros_like(rb_h)});
        }
        xw = xw + (wb + rb);
      }
      at::Tensor h = init_h.defined() ? init_h[d] : at::zeros({batch, hidden}, x.options());
      at::Tensor c = init_c.defined() ? init_c[d] : at::zeros({batch, hidden}, x.options());
      at::Tensor p_i, p_o, p_f;
      if (peep.defined()) {
        p_i = peep[d].slice(0, 0, hidden);
        p_o = peep[d].slice(0, hidden, 2 * hidden);
        p_f = peep[d].slice(0, 2 * hidden, 3 * hidden);
      }
      auto clip = [&](at::Tensor t) { return a.clip > 0 ? t.clamp(-a.clip, a.clip) : t; };
      std::vector<at::Tensor> ys(want_y ? static_cast<size_t>(steps) : 0);
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = reverse ? steps - 1 - s : s;
        const at::Tensor xt = xw[t];
        at::Tensor h_new, c_new;
        if (a.cell == Cell::kRnn) {
          h_new = act[0](clip(at::addmm(xt, h, rt)));
        } else if (a.cell == Cell::kGru) {
          const at::Tensor zr = at::addmm(xt.slice(1, 0, 2 * hidden), h, rt.slice(1, 0, 2 * hidden));
          const at::Tensor z = act[0](clip(zr.slice(1, 0, hidden)));
          const at::Tensor r = act[0](clip(zr.slice(1, hidden, 2 * hidden)));
          const at::Tensor rt_h = rt.slice(1, 2 * hidden, gh);
          const at::Tensor xh = xt.slice(1, 2 * hidden, gh);
          at::Tensor pre;
          if (a.linear_before_reset)
            pre = xh + r * (rb_h.defined() ? at::addmm(rb_h, h, rt_h) : at::matmul(h, rt_h));
          else
            pre = at::addmm(xh, r * h, rt_h);
          const at::Tensor cand = act[1](clip(pre));
          h_new = (1 - z) * cand + z * h;
        } else {
          const at::Tensor g = at::addmm(xt, h, rt);
          at::Tensor gi = g.slice(1, 0, hidden), go = g.slice(1, hidden, 2 * hidden);
          at::Tensor gf = g.slice(1, 2 * hidden, 3 * hidden), gc = g.slice(1, 3 * hidden, 4 * hidden);
          if (p_i.defined()) {
            gi = gi + p_i * c;
            gf = gf + p_f * c;
          }
          const at::Tensor i = act[0](clip(gi));
          const at::Tensor f = a.input_forget ? 1 - i : act[0](clip(gf));
          c_new = f * c + i * act[1](clip(gc));
          if (p_o.defined()) go = go + p_o * c_new;
          h_new = act[0](clip(go)) * act[2](c_new);
        }
        if (valid.defined()) {
          // Past a sequence's length its state is carried unchanged and its output is 0.
          const at::Tensor v = valid[t];
          if (want_y) ys[static_cast<size_t>(t)] = h_new.masked_fill(invalid[t], 0);
          h = at::where(v, h_new, h);
          if (lstm) c = at::where(v, c_new, c);
        } else {
          if (want_y) ys[static_cast<size_t>(t)] = h_new;
          h = h_new;
          if (lstm) c = c_new;
        }
      }
      if (want_y) y_dirs.push_back(steps > 0 ? at::stack(ys) : at::zeros({0, batch, hidden}, x.options()));
      h_dirs.push_back(h);
      c_dirs.push_back(c);
    }
    if (want_y) {
      at::Tensor y = at::stack(y_dirs, 1);
      ctx.set_output(0, a.batch_first ? y.permute({2, 0, 1, 3}).contiguous() : y);
    }
    at::Tensor yh = at::stack(h_dirs);
    ctx.set_output(1, a.batch_first ? yh.transpose(0, 1).contiguous() : yh);
    if (lstm) {
      at::Tensor yc = at::stack(c_dirs);
      ctx.set_output(2, a.batch_first ? yc.transpose(0, 1).contiguous() : yc);
    }
  });
}

}  // namespace

void register_recurrent_ops(OpRegistry& r) {
  for (const char* op : {"RNN", "GRU", "LSTM"})
    for (int since : {7, 14}) r.add(op, since, make_recurrent);
}

}  // namespace ak::models
