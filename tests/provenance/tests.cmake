# Provenance (issue 16, point 4): a caption model with another backbone or a
# renamed label set is refused. Three pipelines on the pipeline tests' tiny
# corpus (about 3 s in the release build, 12 s under ASan); the docstring says
# what it asserts. The timeout catches hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME provenance/mismatch
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/mismatch.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                 ${VTAG_FIXTURES}/provenance/mismatch
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(provenance/mismatch PROPERTIES TIMEOUT 300)
