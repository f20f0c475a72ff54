# Installs the built tree into WORK/prefix, then configures and builds the
# consumer project against it, both ways a user would find the library.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BIN} --prefix ${WORK}/prefix
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/consumer -B ${WORK}/build
  -DCMAKE_PREFIX_PATH=${WORK}/prefix RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer configure failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer build failed")
endif()
foreach(exe consumer_cmake consumer_pc)
  execute_process(COMMAND ${WORK}/build/${exe} RESULT_VARIABLE rc
    OUTPUT_VARIABLE out)
  if(rc OR NOT out MATCHES "convroute 0\\.")
    message(FATAL_ERROR "${exe}: rc=${rc} out=${out}")
  endif()
  message(STATUS "${exe}: ${out}")
endforeach()
