# core tests beyond the auto-registered test_*.c: safetensors files crossing
# between vtag and Python (json + struct, no torch needed).
add_test(NAME core/safetensors_interop
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/core/st_interop.py $<TARGET_FILE:core_test_safetensors>
         WORKING_DIRECTORY ${VTAG_FIXTURES})
# vtag info / --version and VTAG_CPU: the kernel path in use, forced paths, refused paths.
add_test(NAME core/cli_info COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/core/cli_info.py $<TARGET_FILE:vtag>)
