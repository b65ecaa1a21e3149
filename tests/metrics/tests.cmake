# Metrics tests that run the vtag command: agreement with the independent
# Python implementation of SPEC §5 (reference/metrics.py) on randomized
# corpora, and the command's handling of bad input.
add_test(NAME metrics/agree_python
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/agree.py $<TARGET_FILE:vtag>
                 ${PROJECT_SOURCE_DIR}/reference/metrics.py ${VTAG_FIXTURES}/metrics_agree
         WORKING_DIRECTORY ${VTAG_FIXTURES})
add_test(NAME metrics/cli_score
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/cli.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/metrics_cli
         WORKING_DIRECTORY ${VTAG_FIXTURES})
