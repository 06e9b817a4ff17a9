#pragma once
// The dense kernels, all of them. See each header for its contract.
#include "kernels/activations.hpp"
#include "kernels/cache_size.hpp"
#include "kernels/common.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gemm.hpp"
#include "kernels/random.hpp"
#include "kernels/reductions.hpp"
#include "kernels/target.hpp"
