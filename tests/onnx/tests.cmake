# onnx tests: the test-data runner reads op types with the generated protobuf
# code; the backbone tests export torchvision models at test time.
target_include_directories(onnx_test_testdata PRIVATE ${VTAG_ONNX_GEN_DIR})
