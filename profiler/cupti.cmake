# ak_profiler_timing: GPU timing for the profiler (Correlator + CUPTI tracer).
# Included from profiler/CMakeLists.txt; expects the top level's find_package(CUDAToolkit),
# ak_base and ak_warnings. One place decides whether CUPTI is built: without it,
# cupti_stub.cpp makes make_cupti_timing_source() fail with one line and callers fall
# back to host timing without #ifdefs.

set(AK_CUPTI_FOUND OFF)
if(CUDAToolkit_FOUND)
  find_library(CUPTI_LIBRARY cupti
    PATHS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/extras/CUPTI/lib64
          /usr/local/cuda/lib64 /usr/local/cuda/extras/CUPTI/lib64)
  find_path(CUPTI_INCLUDE_DIR cupti.h
    PATHS ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_ROOT}/extras/CUPTI/include
          /usr/local/cuda/include /usr/local/cuda/extras/CUPTI/include)
  if(CUPTI_LIBRARY AND CUPTI_INCLUDE_DIR)
    set(AK_CUPTI_FOUND ON)
  endif()
endif()

if(AK_CUPTI_FOUND)
  message(STATUS "autokernel: CUPTI timing enabled (${CUPTI_LIBRARY})")
  add_library(ak_profiler_timing STATIC
    ${CMAKE_CURRENT_LIST_DIR}/correlation.cpp
    ${CMAKE_CURRENT_LIST_DIR}/launch_replay.cpp
    ${CMAKE_CURRENT_LIST_DIR}/graph_attribution.cpp
    ${CMAKE_CURRENT_LIST_DIR}/host_timing.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cupti_tracer.cpp)
  target_include_directories(ak_profiler_timing SYSTEM PRIVATE ${CUPTI_INCLUDE_DIR})
  # ${CMAKE_DL_LIBS}: the header-only NVTX 3 loads its injection library with dlopen.
  target_link_libraries(ak_profiler_timing PRIVATE ${CUPTI_LIBRARY} CUDA::cudart ${CMAKE_DL_LIBS})
  target_compile_definitions(ak_profiler_timing PRIVATE AK_WITH_CUPTI)
else()
  message(STATUS "autokernel: CUPTI not found, GPU timing falls back to host timing")
  add_library(ak_profiler_timing STATIC
    ${CMAKE_CURRENT_LIST_DIR}/correlation.cpp
    ${CMAKE_CURRENT_LIST_DIR}/launch_replay.cpp
    ${CMAKE_CURRENT_LIST_DIR}/graph_attribution.cpp
    ${CMAKE_CURRENT_LIST_DIR}/host_timing.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cupti_stub.cpp)
endif()
target_link_libraries(ak_profiler_timing PUBLIC ak_base PRIVATE ak_warnings)
