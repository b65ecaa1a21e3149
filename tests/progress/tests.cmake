# Quiet by default and one progress style (issue 18, must-show 2 log part and 6):
# Python scripts on ffmpeg test clips. quiet: every command that opens a video
# on a damaged clip, no FFmpeg log line on stderr without --verbose (about 10 s,
# 40 s under ASan). long_run: vtag features for 25 s with stderr to a pipe, a
# progress line at least every 10 s (about 30 s). The timeouts catch hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
foreach(t quiet long_run)
  add_test(NAME progress/${t}
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/${t}.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                   ${VTAG_FIXTURES}/progress/${t}
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(progress/${t} PROPERTIES TIMEOUT 300)
endforeach()
