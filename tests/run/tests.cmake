# The CLI's shape (issue 15): tools/ includes only public headers, and every
# command file is under 250 lines.
add_test(NAME run/tools_shape COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/tools_shape.py ${PROJECT_SOURCE_DIR}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
# Workers over one tagger: the test writes its tiny ONNX backbone with the generated protobuf code.
target_include_directories(run_test_tagger_workers PRIVATE ${VTAG_ONNX_GEN_DIR})
# vtag pipeline --keep-tag-order end to end on the pipeline tests' tiny corpus (a few seconds).
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
add_test(NAME run/pipeline_tag_order
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/pipeline_tag_order.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                 ${VTAG_FIXTURES}/run/pipeline_tag_order
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(run/pipeline_tag_order PROPERTIES TIMEOUT 300)
