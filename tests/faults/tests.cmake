# Hostile input and faults (issue 14): outputs that are inputs (same_file), failed writes
# (write_errors), number options out of range and training that diverges. Scripts take the vtag
# binary, the shared fixture (faults/fixture: a small synth corpus, backbone, features, models) and
# a work folder of their own.
set(_faults ${VTAG_FIXTURES}/faults)
add_test(NAME faults/fixture
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/common.py $<TARGET_FILE:vtag> ${_faults}/fixture)
set_tests_properties(faults/fixture PROPERTIES FIXTURES_SETUP faults_fixture TIMEOUT 300)
foreach(t same_file write_errors float_options divergence)
  add_test(NAME faults/${t}
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/${t}.py $<TARGET_FILE:vtag> ${_faults}/fixture
                   ${_faults}/${t})
  set_tests_properties(faults/${t} PROPERTIES FIXTURES_REQUIRED faults_fixture TIMEOUT 300)
endforeach()
# Issue 15, must-show 4: a kill -9 in the middle of writing a checkpoint, the HTML report or
# pipeline.json leaves the old file (atomic_kill.py). The pause it kills the writer in is a test
# hook of the library, compiled in only with VTAG_TEST_HOOKS (the ASan build of make test and CI,
# so the test runs there; a release build has no hook and no such test).
if(VTAG_TEST_HOOKS)
  foreach(c safetensors html pipeline)
    add_test(NAME faults/atomic_kill_${c}
             COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/atomic_kill.py $<TARGET_FILE:vtag> ${_faults}/fixture
                     ${_faults}/atomic_kill_${c} ${c})
    set_tests_properties(faults/atomic_kill_${c} PROPERTIES FIXTURES_REQUIRED faults_fixture TIMEOUT 300)
  endforeach()
endif()
