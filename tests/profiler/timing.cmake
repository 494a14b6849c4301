# Correlator, replay- and graph-attribution tests on synthetic records (no GPU needed). Included
# from tests/profiler/CMakeLists.txt, after ak_add_test is defined.
ak_add_test(profiler_timing_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/correlation_test.cpp ${CMAKE_CURRENT_LIST_DIR}/launch_replay_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/graph_attribution_test.cpp
  LIBS ak_profiler_timing)
