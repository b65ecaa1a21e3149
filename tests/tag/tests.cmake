# vtag tag --from on a run folder where XE beat SCST on validation (issue 15):
# a script that runs the pipeline on the pipeline tests' 4 clips (about 1 s,
# 4 s under ASan) and tags them; the timeout catches hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME tag/best_xe
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/best_xe.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                 ${VTAG_FIXTURES}/tag/best_xe
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(tag/best_xe PROPERTIES TIMEOUT 300)
