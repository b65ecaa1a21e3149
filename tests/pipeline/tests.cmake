# Faults of vtag pipeline and vtag frames (issue 14, points 6, 8 and 11): Python
# scripts on a tiny corpus of ffmpeg test clips (4 clips of 1 s; a pipeline on it
# takes about 1 s in the release build, 4 s under ASan), each test under 30 s. The
# docstring of each script says what it asserts. The timeouts catch hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
foreach(t kill_parent lock validate frames_rerun restart dry_run bad_videos)
  add_test(NAME pipeline/${t}
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/${t}.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                   ${VTAG_FIXTURES}/pipeline/${t}
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(pipeline/${t} PROPERTIES TIMEOUT 300)
endforeach()
