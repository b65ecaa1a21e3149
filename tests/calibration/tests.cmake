# vtag eval's calibration and report beyond test_calibration.c (issue 16).
# the report's training curves: SCST's epochs after XE's, its start marked
add_test(NAME calibration/curves
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/curves.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/calibration_curves
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(calibration/curves PROPERTIES TIMEOUT 120)
