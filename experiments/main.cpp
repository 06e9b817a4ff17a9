// tapelab: checks theorems about very deep residual networks numerically (see experiments/cli.hpp).
#include "experiments/cli.hpp"

int main(int argc, char** argv) { return tapelab::experiments::main_cli(argc, argv); }
