# bench_autodiff: tape overhead and the training step, tapelab beside libtorch in one binary.
# libtorch is optional: found at configure time (Debian's libtorch-dev ships TorchConfig.cmake under
# /usr/lib/x86_64-linux-gnu/cmake/Torch); without it the libtorch rows are skipped with a message.
option(TAPELAB_BENCH_LIBTORCH "Compare the training step against libtorch when it is installed" ON)

add_executable(bench_autodiff ${CMAKE_CURRENT_LIST_DIR}/bench_autodiff.cpp)
target_link_libraries(bench_autodiff PRIVATE tapelab_nn benchmark::benchmark)  # nn: the P4 step (X6)

set(TAPELAB_HAVE_LIBTORCH OFF)
if(TAPELAB_BENCH_LIBTORCH)
  # TorchConfig pulls in Caffe2Config, which may look for CUDA, MKL and friends: keep it quiet, and accept only a
  # CPU build that defines the `torch` target.
  find_package(Torch QUIET CONFIG)
  if(Torch_FOUND AND TARGET torch)
    set(TAPELAB_HAVE_LIBTORCH ON)
  endif()
endif()

if(TAPELAB_HAVE_LIBTORCH)
  message(STATUS "bench: libtorch found (${Torch_DIR}); BM_TrainStep rows will pair tapelab with libtorch")
  target_sources(bench_autodiff PRIVATE ${CMAKE_CURRENT_LIST_DIR}/bench_autodiff_libtorch.cpp)
  target_compile_definitions(bench_autodiff PRIVATE TAPELAB_HAVE_LIBTORCH=1)
  target_link_libraries(bench_autodiff PRIVATE torch)
  # Torch's headers are not warning-clean under -Wall -Wextra; silence them for that one file only.
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/bench_autodiff_libtorch.cpp PROPERTIES COMPILE_OPTIONS "-w")
else()
  message(STATUS "bench: libtorch not found (apt-get install libtorch-dev) or TAPELAB_BENCH_LIBTORCH=OFF; "
                 "BM_TrainStep/libtorch rows are skipped")
endif()
