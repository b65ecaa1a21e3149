# End to end: vtag synth → pipeline → tag → eval on a 200-video corpus
# (tests/e2e/e2e.py says what it asserts). About 2.5 minutes on a quiet 2-core
# machine in the release build, 5 with both cores busy (stress-ng --cpu 2), so
# the timeout (1800 s) catches a hang only; the sanitizer build runs every stage's code
# in the module tests, and this whole run would take it far longer.
if(NOT VTAG_SANITIZE)
  add_test(NAME e2e/pipeline COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e.py $<TARGET_FILE:vtag>
           ${VTAG_FIXTURES}/e2e WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(e2e/pipeline PROPERTIES TIMEOUT 1800)
endif()
