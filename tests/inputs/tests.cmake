# vtag tag, probe and frames on what FFmpeg opens (issue 18): a URL served by
# python3 -m http.server, stdin (a file and a real pipe), a directory tree with
# --recursive, refused protocols, a directory without --recursive, and
# "damaged_packets" in the tag line of a corrupted clip. On a run folder made by
# vtag pipeline on the pipeline tests' 4 clips. About 10 s (30 s under ASan); the
# timeout catches hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME inputs/inputs
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/inputs.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                 ${VTAG_FIXTURES}/inputs/inputs
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(inputs/inputs PROPERTIES TIMEOUT 300)
