# onnx tests: the test-data runner reads op types with the generated protobuf
# code; the backbone tests export torchvision models at test time.
target_include_directories(onnx_test_testdata PRIVATE ${VTAG_ONNX_GEN_DIR})
# torchvision resnet18 / resnet50 / mobilenet_v2 and a tiny CNN, exported by
# reference/export_backbones.py at test time into ${VTAG_FIXTURES}/onnx.
add_test(NAME onnx/export_backbones
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/export_backbones.py --out ${VTAG_FIXTURES}/onnx --tiny
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(onnx/export_backbones PROPERTIES FIXTURES_SETUP onnx_models TIMEOUT 600)
vtag_test_executable(onnx_backbone_parity ${CMAKE_CURRENT_LIST_DIR}/backbone_parity.c)
add_test(NAME onnx/backbone_parity
         COMMAND onnx_backbone_parity ${VTAG_FIXTURES}/onnx tiny resnet18 resnet50 mobilenet_v2
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(onnx/backbone_parity PROPERTIES FIXTURES_REQUIRED onnx_models TIMEOUT 600)
# damaged and wrong models, made from tiny.onnx by the test itself
vtag_test_executable(onnx_bad_models ${CMAKE_CURRENT_LIST_DIR}/bad_models.c)
target_include_directories(onnx_bad_models PRIVATE ${VTAG_ONNX_GEN_DIR})
add_test(NAME onnx/bad_models COMMAND onnx_bad_models ${VTAG_FIXTURES}/onnx WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(onnx/bad_models PROPERTIES FIXTURES_REQUIRED onnx_models)
# vtag onnx-info (after bad_models, which writes bad_op.onnx)
add_test(NAME onnx/cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/onnx)
set_tests_properties(onnx/cli PROPERTIES FIXTURES_REQUIRED onnx_models DEPENDS onnx/bad_models)
# The default (portable) build forced onto the generic kernel path: the same parity with torchvision.
add_test(NAME onnx/backbone_parity_generic
         COMMAND onnx_backbone_parity ${VTAG_FIXTURES}/onnx tiny resnet18 mobilenet_v2
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(onnx/backbone_parity_generic PROPERTIES FIXTURES_REQUIRED onnx_models TIMEOUT 600
                     ENVIRONMENT VTAG_CPU=generic)
# Hostile models (sizes past int64, negative shapes, initializers without data), built by the
# test itself into ${VTAG_FIXTURES}/hostile; then the same from the command line.
target_include_directories(onnx_test_hostile_models PRIVATE ${VTAG_ONNX_GEN_DIR})
set_tests_properties(onnx/test_hostile_models PROPERTIES FIXTURES_SETUP onnx_hostile)
add_test(NAME onnx/hostile_cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/hostile_cli.sh $<TARGET_FILE:vtag> ${VTAG_FIXTURES})
set_tests_properties(onnx/hostile_cli PROPERTIES FIXTURES_REQUIRED onnx_hostile TIMEOUT 300)
