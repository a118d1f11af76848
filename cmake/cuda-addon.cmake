# The CUDA addon (gated_pixelcnn_cuda): built when CMake finds a CUDA compiler and
# cuDNN 9; otherwise skipped, with the reason written to build/cuda-status.txt so
# that `gated-pixelcnn info` can say why CUDA is off.
#
# cuDNN is looked for in CUDNN_PATH (variable or environment), the CUDA toolkit's
# folders, and a pip `nvidia-cudnn-cu13` install (python3's nvidia/cudnn folder).
# cuBLAS (optional: the sampler's vertical stage can use it) in the toolkit's folders
# and a pip `nvidia-cublas` install (nvidia/cu13, or nvidia/cublas of older wheels).
# Architectures: sm_80 and sm_90 unless CMAKE_CUDA_ARCHITECTURES says otherwise.

option(GPCNN_CUDA "Build the CUDA addon when the toolkit and cuDNN are found" ON)

function(gpcnn_cuda_status text)
  file(WRITE ${CMAKE_BINARY_DIR}/cuda-status.txt "${text}\n")
  message(STATUS "CUDA addon: ${text}")
endfunction()

function(gpcnn_find_cudnn)
  set(hints "")
  if(CUDNN_PATH)
    list(APPEND hints ${CUDNN_PATH})
  endif()
  if(DEFINED ENV{CUDNN_PATH})
    list(APPEND hints $ENV{CUDNN_PATH})
  endif()
  if(CUDAToolkit_LIBRARY_ROOT)
    list(APPEND hints ${CUDAToolkit_LIBRARY_ROOT})
  endif()
  execute_process(
    COMMAND python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])"
    OUTPUT_VARIABLE pip_cudnn OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(pip_cudnn)
    list(APPEND hints ${pip_cudnn})
  endif()
  find_path(GPCNN_CUDNN_INCLUDE cudnn.h HINTS ${hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  # The versioned library: a machine may hold several cuDNN majors.
  find_library(GPCNN_CUDNN_LIBRARY NAMES libcudnn.so.9 HINTS ${hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
endfunction()

function(gpcnn_find_cublas)
  execute_process(
    COMMAND python3 -c "import nvidia as m; print(';'.join(m.__path__))"
    OUTPUT_VARIABLE pip_nvidia OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(hints ${CUDAToolkit_LIBRARY_ROOT})
  foreach(folder ${pip_nvidia})
    list(APPEND hints ${folder}/cu13 ${folder}/cublas)
  endforeach()
  find_path(GPCNN_CUBLAS_INCLUDE cublas_v2.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${hints} PATH_SUFFIXES include)
  find_library(GPCNN_CUBLAS_LIBRARY NAMES libcublas.so.13 HINTS ${CUDAToolkit_LIBRARY_DIR} ${hints}
               PATH_SUFFIXES lib lib64)
endfunction()

# File scope, not a function: enable_language() must run at directory scope, and a
# return() here ends only this included file.
if(NOT GPCNN_CUDA)
  gpcnn_cuda_status("off: disabled with -DGPCNN_CUDA=OFF")
  return()
endif()
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  gpcnn_cuda_status("not built: no CUDA compiler (nvcc) found")
  return()
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
gpcnn_find_cudnn()
if(NOT GPCNN_CUDNN_INCLUDE OR NOT GPCNN_CUDNN_LIBRARY)
  gpcnn_cuda_status("not built: cuDNN 9 not found (pip install nvidia-cudnn-cu13, or set CUDNN_PATH)")
  return()
endif()
get_filename_component(cudnn_dir ${GPCNN_CUDNN_LIBRARY} DIRECTORY)
gpcnn_find_cublas()

add_library(gated_pixelcnn_cuda SHARED
  native/napi/cuda_addon.cc
  native/cuda/cuda_check.cc native/cuda/cuda_backend.cu native/cuda/captured_step.cc native/cuda/cudnn_conv.cu
  native/cuda/gate.cu native/cuda/conditioning.cu native/cuda/head.cu native/cuda/loss.cu
  native/cuda/optimizer.cu native/cuda/cached_sampler.cu
  ${CMAKE_JS_SRC})
set_target_properties(gated_pixelcnn_cuda PROPERTIES
  PREFIX "" SUFFIX ".node"
  CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
  # Find the pip wheel's libcudnn.so.9 at run time, where the build found it.
  BUILD_RPATH ${cudnn_dir} INSTALL_RPATH ${cudnn_dir})
target_include_directories(gated_pixelcnn_cuda PRIVATE ${GPCNN_CUDNN_INCLUDE})
target_link_libraries(gated_pixelcnn_cuda PRIVATE gpcnn_napi CUDA::cudart_static ${GPCNN_CUDNN_LIBRARY} ${CMAKE_JS_LIB})
gpcnn_stay_loaded(gated_pixelcnn_cuda)
# Warnings are errors for the CUDA code, host and device side (every CI run builds so).
# scripts/device-check.sh turns this off only to rebuild where a device's own toolkit
# warns where CI's does not, so that its short time still measures something.
option(GPCNN_CUDA_WERROR "Treat the CUDA addon's warnings, register spills included, as errors" ON)
if(GPCNN_CUDA_WERROR)
  target_compile_options(gated_pixelcnn_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${GPCNN_WARNINGS} -Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter,-Werror>
    # A kernel that spills registers to local memory is a slow kernel: fail the build.
    $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-warn-spills,-Werror>)
else()
  target_compile_options(gated_pixelcnn_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${GPCNN_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter -Xptxas=-warn-spills>)
endif()
if(GPCNN_CUBLAS_INCLUDE AND GPCNN_CUBLAS_LIBRARY)
  get_filename_component(cublas_dir ${GPCNN_CUBLAS_LIBRARY} DIRECTORY)
  # cuBLAS's headers alone: a wheel's include folder may also hold another CUDA
  # runtime's headers, which would shadow the toolkit's.
  file(GLOB cublas_headers ${GPCNN_CUBLAS_INCLUDE}/cublas*.h)
  file(COPY ${cublas_headers} DESTINATION ${CMAKE_BINARY_DIR}/cublas-include)
  target_include_directories(gated_pixelcnn_cuda PRIVATE ${CMAKE_BINARY_DIR}/cublas-include)
  target_link_libraries(gated_pixelcnn_cuda PRIVATE ${GPCNN_CUBLAS_LIBRARY})
  target_compile_definitions(gated_pixelcnn_cuda PRIVATE GPCNN_CUBLAS=1)
  set_property(TARGET gated_pixelcnn_cuda APPEND PROPERTY BUILD_RPATH ${cublas_dir})
  set_property(TARGET gated_pixelcnn_cuda APPEND PROPERTY INSTALL_RPATH ${cublas_dir})
  gpcnn_cuda_status("built for sm_${CMAKE_CUDA_ARCHITECTURES} with cuDNN from ${cudnn_dir} and cuBLAS from ${cublas_dir}")
else()
  gpcnn_cuda_status("built for sm_${CMAKE_CUDA_ARCHITECTURES} with cuDNN from ${cudnn_dir}, without cuBLAS")
endif()
