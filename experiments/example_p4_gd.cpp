// Example: a small P4 network (papers.md 4.1, 4.5 synthetic setup) trained by full-batch gradient descent for
// 100 steps, with the theorem observables recorded every iteration and printed as JSON lines.
//
//   h_0 = A x,  h_{k+1} = h_k + V_k σ(W_k h_k / sqrt(q)) / (L sqrt(m)),  F(x) = B h_L
//   init (P4 4.2): V_k = 0, W_k = W ~ N(0, 1) tied, A, B identity (frozen); GELU; x, y ~ N(0, I)
//   GD (P4 4.3): lr = L eta0 on the residual weights (own parameter group), eta0 on the embeddings
//   loss (P4 4.1): (1/n) Σ_i ||F(x_i) - y_i||^2
//
// Usage: example_p4_gd [monitor.jsonl]   (default ./p4_gd_monitor.jsonl; the file is also echoed to stdout)
#include <fstream>
#include <iostream>
#include <string>

#include "nn/data.hpp"
#include "nn/monitor.hpp"
#include "nn/optim.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

int main(int argc, char** argv) {
  using namespace tapelab;
  using namespace tapelab::nn;
  const std::string path = argc > 1 ? argv[1] : "p4_gd_monitor.jsonl";
  constexpr index_t n = 20, d = 8, m = 16;
  constexpr std::size_t depth = 32;
  constexpr double eta0 = 0.01;

  Rng rng(0);
  const Dataset data = p4_gaussian_data(rng, n, d, d);
  ResidualNetwork net(ResidualNetworkConfig::p4(d, d, m, d, depth), rng);

  ParamGroup residual{{}, double(depth) * eta0}, embeddings{{}, eta0};
  for (const NamedParameter& p : net.named_parameters())
    (p.name.rfind("layers.", 0) == 0 ? residual : embeddings).params.push_back(p.parameter);
  GradientDescent gd({residual, embeddings});

  MonitorOptions options;
  options.path = path;
  options.format = MonitorFormat::json_lines;
  options.expensive_every = 25;
  Monitor monitor(net, options);

  Tape<double> tape;
  try {
    for (long long it = 0; it < 100; ++it) {
      tape.clear();
      gd.zero_grad();
      const Var<double> loss =
          mean_squared_norm_loss(net.forward(tape, data.x, /*keep_hidden=*/true), tape.constant(data.y));
      tape.backward(loss);
      check_finite(it, loss.item(), net);
      const auto hidden = net.hidden_states(), hidden_grads = net.hidden_gradients();
      monitor.record(it, loss.item(), &hidden, &hidden_grads);
      gd.step();
    }
    monitor.close();
  } catch (const std::exception& e) {
    std::cerr << "example_p4_gd: " << e.what() << "\n";
    return 1;
  }
  std::ifstream in(path);
  std::cout << in.rdbuf();
  return 0;
}
