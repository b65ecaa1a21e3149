# Video tests: the clips come from the ffmpeg CLI at test time (a fixture),
# then the C tests compare against it and the CLI tests run bin/vtag.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME video/clips COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/make_clips.sh WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(video/clips PROPERTIES FIXTURES_SETUP video_clips TIMEOUT 300)

add_test(NAME video/cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:vtag>
         WORKING_DIRECTORY ${VTAG_FIXTURES})

file(GLOB _video_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.c)
foreach(src ${_video_tests})
  get_filename_component(name ${src} NAME_WE)
  list(APPEND _video_test_names video/${name})
endforeach()
set_tests_properties(${_video_test_names} video/cli PROPERTIES FIXTURES_REQUIRED video_clips TIMEOUT 300)

# A tiny stream whose header claims 16000x16000 pixels: refused before any picture is decoded,
# under 200 MB (issue 14; VTAG_VIDEO_MAX_SIDE / VTAG_VIDEO_MAX_PIXELS).
add_test(NAME video/huge_picture COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/huge_picture.py $<TARGET_FILE:vtag>
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(video/huge_picture PROPERTIES TIMEOUT 300)
