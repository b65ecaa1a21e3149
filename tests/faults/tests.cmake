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
