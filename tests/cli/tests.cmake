# One option parser and one error style for every command (issue 18, point 4):
# the unknown-option, misspelt-option and missing-value lines, "did you mean" for
# commands, and the short options, for each command listed by vtag --help. Only
# option parsing runs (no video is read): a few seconds, also under ASan.
add_test(NAME cli/options COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/options.py $<TARGET_FILE:vtag>)
set_tests_properties(cli/options PROPERTIES TIMEOUT 600)
