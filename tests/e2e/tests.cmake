# End to end: vtag synth → pipeline → tag → eval on a 200-video corpus
# (tests/e2e/e2e.py says what it asserts). About 2.5 minutes on a quiet 2-core
# machine in the release build, 5 with both cores busy (stress-ng --cpu 2), so
# the timeout (1800 s) catches a hang only; the sanitizer build runs every stage's code
# in the module tests, and this whole run would take it far longer.
if(NOT VTAG_SANITIZE)
  add_test(NAME e2e/pipeline COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/e2e.py $<TARGET_FILE:vtag>
           ${VTAG_FIXTURES}/e2e WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(e2e/pipeline PROPERTIES TIMEOUT 1800 FIXTURES_SETUP e2e_run)
  # vtag serve on every video of the e2e corpus (and its two bad files): each
  # answer, through http.client and curl, is vtag tag's line (tests/serve).
  find_program(VTAG_CURL curl REQUIRED)
  add_test(NAME e2e/serve_same_tags
           COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/tests/serve/same_tags.py $<TARGET_FILE:vtag> ${VTAG_CURL}
                   ${VTAG_FIXTURES}/e2e ${VTAG_FIXTURES}/e2e/run ${VTAG_FIXTURES}/e2e/corpus/videos
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(e2e/serve_same_tags PROPERTIES TIMEOUT 1800 FIXTURES_REQUIRED e2e_run)
endif()
