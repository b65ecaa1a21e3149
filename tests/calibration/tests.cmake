# calibration of vtag eval from the command line (issue 16): the table's ECE
# and P@0.9, the JSON fields, exit 1 when no labelled video is found.
add_test(NAME calibration/cli
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/cli.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/calibration_cli
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(calibration/cli PROPERTIES TIMEOUT 300)
# the report's training curves: SCST's epochs after XE's, its start marked
add_test(NAME calibration/curves
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/curves.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/calibration_curves
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(calibration/curves PROPERTIES TIMEOUT 300)
