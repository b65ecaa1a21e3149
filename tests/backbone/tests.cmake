# backbone tests beyond the auto-registered test_*.c, one file per part.
include(${CMAKE_CURRENT_LIST_DIR}/builtin.cmake)
# Tiny hostile built-in backbone files: refused before any large allocation (peak RSS under 200 MB).
add_test(NAME backbone/hostile_backbone
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/hostile_backbone.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/hostile_backbone)
set_tests_properties(backbone/hostile_backbone PROPERTIES TIMEOUT 300)
# backbone train --resume refuses a training state with any field out of range (one line naming it).
add_test(NAME backbone/state_resume
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/state_resume.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/state_resume)
set_tests_properties(backbone/state_resume PROPERTIES TIMEOUT 600)
