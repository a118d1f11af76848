# The CUDA emulator addon (gated_pixelcnn_cuda_emu): the CUDA backend's own sources
# (native/cuda) compiled by the host compiler against an emulated CUDA runtime and
# cuDNN (native/cuda_emu), so that the GPU test suite runs, and catches mistakes in
# the kernels and in our use of the runtime and of cuDNN, on machines without a GPU.
# Tests load it with GATED_PIXELCNN_CUDA_EMULATOR=1; it is slow and never chosen
# otherwise.

# On by default in a checkout of the repository, which has the tests that use it; off
# in an installed package, which has none.
if(EXISTS ${CMAKE_SOURCE_DIR}/test/cuda)
  set(emulator_default ON)
else()
  set(emulator_default OFF)
endif()
option(GPCNN_CUDA_EMULATOR "Build gated_pixelcnn_cuda_emu: the CUDA backend run on the CPU, for tests" ${emulator_default})
if(NOT GPCNN_CUDA_EMULATOR)
  return()
endif()

set(emulated_sources)
foreach(unit cuda_backend cudnn_conv gate conditioning head loss optimizer cached_sampler)
  # A .cu file can be compiled as C++ by one target only through a wrapper: source
  # properties such as LANGUAGE are per directory, and the CUDA addon compiles it as CUDA.
  set(wrapper ${CMAKE_BINARY_DIR}/cuda_emu/${unit}.cc)
  file(GENERATE OUTPUT ${wrapper} CONTENT "#include \"${CMAKE_SOURCE_DIR}/native/cuda/${unit}.cu\"\n")
  list(APPEND emulated_sources ${wrapper})
endforeach()

add_library(gated_pixelcnn_cuda_emu SHARED
  native/napi/cuda_addon.cc native/cuda/cuda_check.cc native/cuda/captured_step.cc
  native/cuda_emu/device.cc native/cuda_emu/fiber.cc native/cuda_emu/cudnn.cc native/cuda_emu/cublas.cc
  ${emulated_sources} ${CMAKE_JS_SRC})
set_target_properties(gated_pixelcnn_cuda_emu PROPERTIES PREFIX "" SUFFIX ".node")
target_include_directories(gated_pixelcnn_cuda_emu BEFORE PRIVATE ${CMAKE_SOURCE_DIR}/native/cuda_emu/include)
target_compile_definitions(gated_pixelcnn_cuda_emu PRIVATE GPCNN_CUDA_EMULATOR GPCNN_CUBLAS=1)
target_link_libraries(gated_pixelcnn_cuda_emu PRIVATE gpcnn_napi ${CMAKE_JS_LIB})
gpcnn_stay_loaded(gated_pixelcnn_cuda_emu)
target_compile_options(gated_pixelcnn_cuda_emu PRIVATE ${GPCNN_WARNINGS} -Werror -O3)
# Emulated kernels are slow code on a CPU (one thread's work at a time); vector
# instructions cut the suite's time by a quarter (where the CPU has them: the main
# CMakeLists.txt asks it).
if(GPCNN_CPU_HAS_AVX2_FMA)
  target_compile_options(gated_pixelcnn_cuda_emu PRIVATE -march=x86-64-v3)
endif()
