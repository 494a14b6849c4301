# Finds ONNX's .proto files and compiles them with protoc into ${CMAKE_BINARY_DIR}/gen/onnx/.
# We use onnx-ml.proto (onnx.proto plus the ML types: maps, sequences) and onnx-data.proto
# (SequenceProto/OptionalProto, the format of test data for sequence values). Both ship in
# the python `onnx` package (Debian's python3-onnx, or pip's onnx on the GPU machine).
set(AK_ONNX_PROTO_DIR "" CACHE PATH "Folder holding onnx-ml.proto and onnx-data.proto (found automatically when empty)")
if(NOT AK_ONNX_PROTO_DIR)
  set(_ak_candidates /usr/lib/python3/dist-packages/onnx)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  foreach(_py ${Python3_EXECUTABLE} python3 /usr/bin/python3)
    execute_process(COMMAND ${_py} -c "import onnx,os;print(os.path.dirname(onnx.__file__))"
                    OUTPUT_VARIABLE _ak_py_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_ak_py_dir)
      list(APPEND _ak_candidates ${_ak_py_dir})
    endif()
  endforeach()
  foreach(_dir ${_ak_candidates})
    if(EXISTS "${_dir}/onnx-ml.proto" AND EXISTS "${_dir}/onnx-data.proto")
      set(AK_ONNX_PROTO_DIR ${_dir})
      break()
    endif()
  endforeach()
endif()
if(NOT EXISTS "${AK_ONNX_PROTO_DIR}/onnx-ml.proto")
  message(FATAL_ERROR "onnx-ml.proto / onnx-data.proto not found: install python3-onnx (Debian) or the python onnx package, or set AK_ONNX_PROTO_DIR")
endif()
message(STATUS "ONNX protos: ${AK_ONNX_PROTO_DIR}")

set(AK_ONNX_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${AK_ONNX_GEN_DIR}/onnx)
set(_ak_sources)
foreach(_name onnx-ml onnx-data)
  # protoc wants the files under an import root so that outputs land in onnx/.
  configure_file(${AK_ONNX_PROTO_DIR}/${_name}.proto ${AK_ONNX_GEN_DIR}/proto/onnx/${_name}.proto COPYONLY)
  list(APPEND _ak_sources ${AK_ONNX_GEN_DIR}/onnx/${_name}.pb.cc)
endforeach()
add_custom_command(
  OUTPUT ${_ak_sources} ${AK_ONNX_GEN_DIR}/onnx/onnx-ml.pb.h ${AK_ONNX_GEN_DIR}/onnx/onnx-data.pb.h
  COMMAND protobuf::protoc --cpp_out=${AK_ONNX_GEN_DIR} -I ${AK_ONNX_GEN_DIR}/proto
          ${AK_ONNX_GEN_DIR}/proto/onnx/onnx-ml.proto ${AK_ONNX_GEN_DIR}/proto/onnx/onnx-data.proto
  DEPENDS ${AK_ONNX_GEN_DIR}/proto/onnx/onnx-ml.proto ${AK_ONNX_GEN_DIR}/proto/onnx/onnx-data.proto
  COMMENT "protoc onnx-ml.proto onnx-data.proto")

add_library(ak_onnx_proto STATIC ${_ak_sources})
target_include_directories(ak_onnx_proto PUBLIC ${AK_ONNX_GEN_DIR})
target_link_libraries(ak_onnx_proto PUBLIC protobuf::libprotobuf)
set_target_properties(ak_onnx_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
