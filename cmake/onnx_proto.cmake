# Finds onnx.proto (Debian's libonnx-dev, or the python `onnx` package) and compiles it
# with protoc into ${CMAKE_BINARY_DIR}/gen/onnx/onnx.pb.{h,cc}.
set(AK_ONNX_PROTO "" CACHE FILEPATH "Path to onnx.proto (found automatically when empty)")
if(NOT AK_ONNX_PROTO)
  find_file(AK_ONNX_PROTO_SYSTEM onnx/onnx.proto PATHS /usr/include /usr/local/include NO_DEFAULT_PATH)
  if(AK_ONNX_PROTO_SYSTEM)
    set(AK_ONNX_PROTO ${AK_ONNX_PROTO_SYSTEM})
  else()
    find_package(Python3 COMPONENTS Interpreter QUIET)
    if(Python3_Interpreter_FOUND)
      execute_process(COMMAND ${Python3_EXECUTABLE} -c "import onnx,os;print(os.path.join(os.path.dirname(onnx.__file__),'onnx.proto'))"
                      OUTPUT_VARIABLE _ak_py_proto OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(EXISTS "${_ak_py_proto}")
        set(AK_ONNX_PROTO ${_ak_py_proto})
      endif()
    endif()
  endif()
endif()
if(NOT EXISTS "${AK_ONNX_PROTO}")
  message(FATAL_ERROR "onnx.proto not found: install libonnx-dev (Debian) or the python onnx package, or set AK_ONNX_PROTO")
endif()
message(STATUS "onnx.proto: ${AK_ONNX_PROTO}")

set(AK_ONNX_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${AK_ONNX_GEN_DIR}/onnx)
# protoc wants the file under an import root so that the output lands in onnx/.
configure_file(${AK_ONNX_PROTO} ${AK_ONNX_GEN_DIR}/proto/onnx/onnx.proto COPYONLY)
add_custom_command(
  OUTPUT ${AK_ONNX_GEN_DIR}/onnx/onnx.pb.cc ${AK_ONNX_GEN_DIR}/onnx/onnx.pb.h
  COMMAND protobuf::protoc --cpp_out=${AK_ONNX_GEN_DIR} -I ${AK_ONNX_GEN_DIR}/proto ${AK_ONNX_GEN_DIR}/proto/onnx/onnx.proto
  DEPENDS ${AK_ONNX_GEN_DIR}/proto/onnx/onnx.proto
  COMMENT "protoc onnx.proto")

add_library(ak_onnx_proto STATIC ${AK_ONNX_GEN_DIR}/onnx/onnx.pb.cc)
target_include_directories(ak_onnx_proto PUBLIC ${AK_ONNX_GEN_DIR})
target_link_libraries(ak_onnx_proto PUBLIC protobuf::libprotobuf)
set_target_properties(ak_onnx_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
