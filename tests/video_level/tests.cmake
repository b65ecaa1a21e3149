# The video-level captioner end to end (issue 16): vtag pipeline --model video
# on the pipeline tests' tiny corpus (4 clips of 1 s; about 3 s in the release
# build), then vtag inspect, tag and eval on its run folder. The timeout only
# catches a hang.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME video_level/pipeline_video
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/pipeline_video.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                 ${VTAG_FIXTURES}/video_level/pipeline_video
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(video_level/pipeline_video PROPERTIES TIMEOUT 300)
