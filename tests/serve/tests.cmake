# vtag serve answers what vtag tag writes, through http.client and curl (raw
# body, multipart upload, {"path"} under --root), on a run folder made by
# vtag pipeline on the pipeline tests' 4 clips plus a file that is not a video;
# /healthz, /v1/models, /metrics; SIGTERM exits 0. About 5 s (20 s under ASan);
# the timeout catches hangs only. tests/e2e/tests.cmake runs the same script on
# every video of the e2e corpus.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
find_program(VTAG_CURL curl REQUIRED)
add_test(NAME serve/same_tags
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/same_tags.py $<TARGET_FILE:vtag> ${VTAG_CURL}
                 ${VTAG_FIXTURES}/serve/same_tags make ${VTAG_FFMPEG}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(serve/same_tags PROPERTIES TIMEOUT 600)
# The upload page in headless Chromium over the DevTools protocol: upload a clip
# through the file input, the tags and frame strip shown equal vtag tag's line,
# a screenshot (page.png in the work folder), no console error or exception.
# About 5 s (15 s under ASan); the timeout catches hangs only.
add_test(NAME serve/page_browser
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/page_browser.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/serve/page_browser ${VTAG_FFMPEG}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(serve/page_browser PROPERTIES TIMEOUT 300)

# vtag serve under hostile input (random bytes, half an MP4, a huge Content-Length, a stalled
# client, paths out of --root, URLs when off, unknown routes, bad top_n) while 4 threads keep
# checking good answers, then SIGTERM with 10 requests in flight: all answered, exit code 0.
# About 5 s (30 s under ASan); the timeout catches hangs only.
add_test(NAME serve/hostile
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/hostile.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/serve/hostile ${VTAG_FFMPEG}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(serve/hostile PROPERTIES TIMEOUT 600)
